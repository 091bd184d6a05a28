import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { CollectionRecord, JobStore } from '../../../src/store/job-store.js';
import { claimId, enqueueOk, newJob, type StoreFactory, withStore } from './harness.js';

const OUTPUTS = { '9': { images: [{ filename: 'ComfyUI_0001.png', subfolder: '', type: 'output' }] } };

async function completed(s: JobStore, endedAt: number): Promise<string> {
  const [job] = await enqueueOk(s, newJob());
  await claimId(s, job!.id);
  await s.finish(job!.id, { status: 'completed', endedAt, outputs: OUTPUTS });
  return job!.id;
}

function record(jobId: string, endedAt: number, over: Partial<CollectionRecord> = {}): CollectionRecord {
  return {
    jobId,
    endedAt,
    state: 'stored',
    target: 'file:///srv/outputs',
    files: [
      { key: `jobs/${jobId}.png`, bytes: 12, filename: 'ComfyUI_0001.png', subfolder: '', type: 'output' },
    ],
    attempts: 0,
    error: null,
    updatedAt: endedAt + 1,
    ...over,
  };
}

const ids = (jobs: { id: string }[]) => jobs.map((j) => j.id);

export function collectionCases(f: StoreFactory): void {
  it('lists completed jobs not collected, in (ended_at, id) order, from a time and after a keyset', () =>
    withStore(f, async (s) => {
      const a = await completed(s, 100);
      const b = await completed(s, 200);
      const c = await completed(s, 300);
      const [failed] = await enqueueOk(s, newJob());
      await claimId(s, failed!.id);
      await s.finish(failed!.id, { status: 'failed', endedAt: 250 });
      await enqueueOk(s, newJob()); // pending
      assert.deepEqual(ids(await s.listUncollected(0, null, 10)), [a, b, c]);
      assert.deepEqual(ids(await s.listUncollected(150, null, 10)), [b, c]);
      assert.deepEqual(ids(await s.listUncollected(0, { endedAt: 200, id: b }, 10)), [c]);
      assert.deepEqual(ids(await s.listUncollected(0, null, 2)), [a, b]);
    }));

  it('a stored or failed record takes a job off the list; a pending one keeps it there', () =>
    withStore(f, async (s) => {
      const a = await completed(s, 100);
      const b = await completed(s, 200);
      const c = await completed(s, 300);
      assert.equal(await s.saveCollection(record(a, 100)), true);
      assert.equal(
        await s.saveCollection(record(b, 200, { state: 'pending', attempts: 2, error: 'down' })),
        true,
      );
      assert.equal(
        await s.saveCollection(record(c, 300, { state: 'failed', files: [], error: 'gone' })),
        true,
      );
      assert.deepEqual(ids(await s.listUncollected(0, null, 10)), [b]);
      const got = new Map((await s.getCollections([a, b, c, 'nope'])).map((r) => [r.jobId, r]));
      assert.equal(got.size, 3);
      assert.deepEqual(got.get(a), record(a, 100));
      assert.deepEqual(got.get(b), record(b, 200, { state: 'pending', attempts: 2, error: 'down' }));
      assert.equal(got.get(c)?.state, 'failed');
      // Replaced as a whole.
      assert.equal(await s.saveCollection(record(b, 200)), true);
      assert.deepEqual((await s.getCollections([b]))[0], record(b, 200));
      assert.deepEqual(ids(await s.listUncollected(0, null, 10)), []);
      assert.deepEqual(await s.getCollections([]), []);
    }));

  it('records only for the completion it names, and never for a job that is gone', () =>
    withStore(f, async (s) => {
      const a = await completed(s, 100);
      assert.equal(await s.saveCollection(record(a, 99)), false);
      assert.equal(await s.saveCollection(record('no-such-job', 100)), false);
      const [pending] = await enqueueOk(s, newJob());
      assert.equal(await s.saveCollection(record(pending!.id, 100)), false);
      assert.deepEqual(await s.getCollections([a, pending!.id, 'no-such-job']), []);
    }));

  it("a job's record goes with the job", () =>
    withStore(f, async (s) => {
      const a = await completed(s, 100);
      await s.saveCollection(record(a, 100));
      assert.deepEqual(await s.delete([a], ['completed']), [a]);
      assert.deepEqual(await s.getCollections([a]), []);
    }));

  it('records survive a reopen', () =>
    withStore(f, async (s) => {
      const a = await completed(s, 100);
      await s.saveCollection(record(a, 100));
      const again = await f.openAgain(s);
      try {
        assert.deepEqual(await again.getCollections([a]), [record(a, 100)]);
      } finally {
        await again.close();
      }
    }));
}
