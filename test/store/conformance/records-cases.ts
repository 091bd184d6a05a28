import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { WorkerRecord } from '../../../src/store/job-store.js';
import { claimId, enqueueOk, newJob, type StoreFactory, withStore } from './harness.js';

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');

function worker(id: string, over: Partial<WorkerRecord> = {}): WorkerRecord {
  return {
    id,
    kind: 'push',
    source: 'flag',
    url: `http://${id}:8188`,
    tags: ['sdxl', 'ünï'],
    capacity: 2,
    mode: 'active',
    health: { streak: 0, blocked: { wf: 1 } },
    createdAt: 1000,
    updatedAt: 1000,
    ...over,
  };
}

export function recordsCases(f: StoreFactory): void {
  it('keeps, replaces and prunes thumbnails, oldest first, with their totals', () =>
    withStore(f, async (s) => {
      const [a, b, c] = await enqueueOk(s, newJob(), newJob(), newJob());
      assert.equal(await s.getThumbnail(a!.id), null);
      assert.equal(await s.putThumbnail(a!.id, { png: PNG, width: 4, height: 3, createdAt: 10 }), true);
      assert.equal(
        await s.putThumbnail(b!.id, { png: PNG.subarray(0, 8), width: 2, height: 2, createdAt: 5 }),
        true,
      );
      assert.equal(
        await s.putThumbnail('no-such-id', { png: PNG, width: 1, height: 1, createdAt: 1 }),
        false,
      );
      assert.deepEqual(await s.getThumbnail(a!.id), {
        png: PNG,
        width: 4,
        height: 3,
        bytes: PNG.length,
        createdAt: 10,
      });
      assert.deepEqual(
        [...(await s.withThumbnails([a!.id, b!.id, c!.id, 'x']))].sort(),
        [a!.id, b!.id].sort(),
      );
      assert.deepEqual(await s.withThumbnails([]), new Set());
      assert.deepEqual(await s.thumbnailTotals(), { count: 2, bytes: PNG.length + 8 });
      // Replaced: the totals follow the new size.
      await s.putThumbnail(a!.id, { png: PNG.subarray(0, 4), width: 1, height: 1, createdAt: 20 });
      assert.deepEqual(await s.thumbnailTotals(), { count: 2, bytes: 12 });
      assert.equal(await s.deleteOldestThumbnails(1), 1);
      assert.equal(await s.getThumbnail(b!.id), null, 'the oldest went first');
      assert.equal((await s.getThumbnail(a!.id))?.bytes, 4);
      // A job's thumbnail goes with the job.
      await s.finishPending(a!.id, { status: 'cancelled', endedAt: 1 });
      assert.deepEqual(await s.delete([a!.id], ['cancelled']), [a!.id]);
      assert.deepEqual(await s.thumbnailTotals(), { count: 0, bytes: 0 });
      assert.equal(await s.deleteOldestThumbnails(5), 0);
    }));

  it('registers, replaces and forgets workers, oldest first', () =>
    withStore(f, async (s) => {
      assert.deepEqual(await s.listWorkers(), []);
      await s.saveWorker(worker('gpu2', { createdAt: 2000, updatedAt: 2000 }));
      await s.saveWorker(worker('gpu1'));
      await s.saveWorker(worker('agent1', { kind: 'agent', source: 'api', url: null, createdAt: 3000 }));
      assert.deepEqual(
        (await s.listWorkers()).map((w) => w.id),
        ['gpu1', 'gpu2', 'agent1'],
      );
      const changed = worker('gpu1', {
        mode: 'draining',
        capacity: 4,
        tags: [],
        health: {},
        updatedAt: 5000,
      });
      await s.saveWorker(changed);
      assert.deepEqual((await s.listWorkers())[0], changed);
      assert.equal(await s.deleteWorker('gpu2'), true);
      assert.equal(await s.deleteWorker('gpu2'), false);
      assert.deepEqual(
        (await s.listWorkers()).map((w) => w.id),
        ['gpu1', 'agent1'],
      );
    }));

  it("totals each worker's finished jobs since a time", () =>
    withStore(f, async (s) => {
      const [a, b, c, d] = await enqueueOk(s, newJob(), newJob(), newJob(), newJob());
      await claimId(s, a!.id, 'w1', 1000);
      await s.finish(a!.id, { status: 'completed', endedAt: 4000 });
      await claimId(s, b!.id, 'w1', 5000);
      await s.finish(b!.id, { status: 'failed', endedAt: 6000 });
      await claimId(s, c!.id, 'w2', 100);
      await s.finish(c!.id, { status: 'completed', endedAt: 900 }); // before the window
      await claimId(s, d!.id, 'w2', 2000); // still running
      assert.deepEqual(await s.workerTotals(2000), [
        // busy time counts from the window's start: 2000…4000 and 5000…6000
        { worker: 'w1', completed: 1, failed: 1, meanMs: 3000, busyMs: 3000 },
      ]);
      assert.deepEqual(await s.workerTotals(0), [
        { worker: 'w1', completed: 1, failed: 1, meanMs: 3000, busyMs: 4000 },
        { worker: 'w2', completed: 1, failed: 0, meanMs: 800, busyMs: 800 },
      ]);
    }));

  it('finds the job and the worker that produced a file, the latest one first', () =>
    withStore(f, async (s) => {
      const [a, b] = await enqueueOk(s, newJob(), newJob());
      const out = (name: string, subfolder = '') => ({
        '9': {
          images: [{ filename: name, subfolder, type: 'output' }],
          extra: { nested: [{ filename: 'deep.png' }] },
        },
      });
      await claimId(s, a!.id, 'w1');
      await s.finish(a!.id, { status: 'completed', endedAt: 10, outputs: out('x.png') });
      await claimId(s, b!.id, 'w2');
      await s.finish(b!.id, { status: 'completed', endedAt: 20, outputs: out('x.png') });
      assert.equal(await s.jobForFile('output', '', 'x.png'), b!.id);
      assert.equal(await s.workerForFile('output', '', 'x.png'), 'w2');
      assert.equal(await s.jobForFile('output', '', 'deep.png'), b!.id, 'a filename anywhere in the outputs');
      assert.equal(await s.jobForFile('output', 'sub', 'x.png'), null);
      assert.equal(await s.workerForFile('temp', '', 'x.png'), null);
      await s.delete([b!.id], ['completed']);
      assert.equal(await s.jobForFile('output', '', 'x.png'), a!.id);
      assert.equal(await s.workerForFile('output', '', 'x.png'), 'w1');
    }));
}
