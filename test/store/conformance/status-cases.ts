import assert from 'node:assert/strict';
import { it } from 'node:test';
import { claimId, enqueueOk, newJob, pendingIds, type StoreFactory, withStore } from './harness.js';

const OUTPUTS = { '9': { images: [{ filename: 'ComfyUI_0001.png', subfolder: '', type: 'output' }] } };

export function statusCases(f: StoreFactory): void {
  it('finishes only an in_progress job', () =>
    withStore(f, async (s) => {
      const [a] = await enqueueOk(s, newJob());
      const before = await s.get(a!.id);
      assert.equal(await s.finish(a!.id, { status: 'completed', endedAt: 9 }), null);
      assert.deepEqual(await s.get(a!.id), before);
      await claimId(s, a!.id, 'w1', 100);
      const done = await s.finish(a!.id, { status: 'completed', endedAt: 200, outputs: OUTPUTS });
      assert.equal(done?.status, 'completed');
      assert.equal(done?.endedAt, 200);
      assert.equal(done?.leaseUntil, null);
      assert.equal(done?.worker, 'w1');
      assert.deepEqual(done?.outputs, OUTPUTS);
      assert.deepEqual(await s.get(a!.id), done);
      assert.equal(await s.finish(a!.id, { status: 'failed', endedAt: 300 }), null);
      assert.equal(await s.finish('no-such-id', { status: 'failed', endedAt: 300 }), null);
    }));

  it('records a failure with its error', () =>
    withStore(f, async (s) => {
      const [a] = await enqueueOk(s, newJob());
      await claimId(s, a!.id);
      const error = {
        type: 'execution_error',
        message: 'CUDA out of memory',
        node_id: '3',
        traceback: ['…'],
      };
      const failed = await s.finish(a!.id, { status: 'failed', endedAt: 5, error });
      assert.equal(failed?.status, 'failed');
      assert.deepEqual(failed?.error, error);
      assert.equal(failed?.outputs, null);
    }));

  it('finishes only while the expected worker holds the job', () =>
    withStore(f, async (s) => {
      const [a] = await enqueueOk(s, newJob());
      await claimId(s, a!.id, 'w1');
      assert.equal(await s.finish(a!.id, { status: 'completed', endedAt: 5 }, 'w2'), null);
      assert.equal(await s.release(a!.id, null, 'w2'), null);
      assert.equal((await s.get(a!.id))?.status, 'in_progress');
      assert.equal((await s.finish(a!.id, { status: 'cancelled', endedAt: 5 }, 'w1'))?.status, 'cancelled');
    }));

  it("fencing: a report carrying an earlier claim's attempt changes nothing, even from the same worker", () =>
    withStore(f, async (s) => {
      const [a, b] = await enqueueOk(s, newJob(), newJob());
      const first = await claimId(s, a!.id, 'w1');
      assert.equal(first.attempts, 1);
      // The claim lapses (the worker looked gone); the job runs again, on the same worker id.
      assert.equal((await s.release(a!.id, null, 'w1', 1))?.status, 'pending');
      const second = await claimId(s, a!.id, 'w1');
      assert.equal(second.attempts, 2);
      const before = await s.get(a!.id);
      const stale = 1;
      assert.equal(await s.finish(a!.id, { status: 'completed', endedAt: 5 }, 'w1', stale), null);
      assert.equal(await s.release(a!.id, null, 'w1', stale), null);
      assert.equal(await s.retry(a!.id, { type: 'stalled', message: 'x' }, 'w1', stale), null);
      const both = await s.finishAndClaim(a!.id, { status: 'failed', endedAt: 5 }, 'w1', null, stale);
      assert.deepEqual(both, { finished: null, next: null });
      assert.deepEqual(await s.get(a!.id), before, 'the stale reports left the job as it was');
      // The current claim's token works; a stale finish-and-claim still claims (the worker has room).
      const claimed = await s.finishAndClaim(
        a!.id,
        { status: 'completed', endedAt: 6 },
        'w1',
        { now: 7, leaseUntil: 70 },
        stale,
      );
      assert.equal(claimed.finished, null);
      assert.equal(claimed.next?.id, b!.id);
      const done = await s.finish(a!.id, { status: 'completed', endedAt: 8 }, 'w1', 2);
      assert.equal(done?.status, 'completed');
      assert.equal(done?.attempts, 2);
    }));

  it('fencing: retry and release take the current token only', () =>
    withStore(f, async (s) => {
      const [a] = await enqueueOk(s, newJob());
      await claimId(s, a!.id, 'w1');
      const back = await s.retry(a!.id, { type: 'stalled', message: 'no message for 10 min' }, 'w1', 1);
      assert.equal(back?.status, 'pending');
      assert.equal(back?.retries, 1);
      await claimId(s, a!.id, 'w2');
      assert.equal(await s.release(a!.id, null, 'w2', 1), null);
      assert.equal(await s.release(a!.id, null, undefined, 1), null, 'a token alone fences too');
      assert.equal((await s.release(a!.id, null, 'w2', 2))?.status, 'pending');
    }));

  it('finishes a job and claims the next for the same worker in one call', () =>
    withStore(f, async (s) => {
      const [a, b, c] = await enqueueOk(s, newJob(), newJob(), newJob());
      await claimId(s, a!.id, 'w1');
      const r = await s.finishAndClaim(a!.id, { status: 'completed', endedAt: 50, outputs: OUTPUTS }, 'w1', {
        now: 60,
        leaseUntil: 160,
      });
      assert.equal(r.finished?.status, 'completed');
      assert.deepEqual(r.finished?.outputs, OUTPUTS);
      assert.equal(r.next?.id, b!.id);
      assert.equal(r.next?.status, 'in_progress');
      assert.equal(r.next?.worker, 'w1');
      assert.equal(r.next?.startedAt, 60);
      assert.equal(r.next?.leaseUntil, 160);
      assert.equal(r.next?.attempts, 1);
      // another worker's job is not finished, and nothing is claimed without `claim`
      const other = await s.finishAndClaim(b!.id, { status: 'failed', endedAt: 70 }, 'w2', null);
      assert.deepEqual(other, { finished: null, next: null });
      const last = await s.finishAndClaim(b!.id, { status: 'failed', endedAt: 70 }, 'w1', null);
      assert.equal(last.finished?.status, 'failed');
      assert.equal(last.next, null);
      assert.deepEqual(await pendingIds(s), [c!.id]);
    }));

  it('finishes a pending job without running it, and nothing else', () =>
    withStore(f, async (s) => {
      const [a, b] = await enqueueOk(s, newJob(), newJob());
      await claimId(s, b!.id);
      assert.equal(await s.finishPending(b!.id, { status: 'cancelled', endedAt: 1 }), null);
      const cancelled = await s.finishPending(a!.id, { status: 'cancelled', endedAt: 7 });
      assert.equal(cancelled?.status, 'cancelled');
      assert.equal(cancelled?.endedAt, 7);
      assert.equal(cancelled?.attempts, 0);
      assert.equal(await s.finishPending(a!.id, { status: 'failed', endedAt: 8 }), null);
      const [c] = await enqueueOk(s, newJob());
      const error = { type: 'invalid_job', message: 'node 4 missing' };
      assert.deepEqual((await s.finishPending(c!.id, { status: 'failed', endedAt: 9, error }))?.error, error);
      const [d] = await enqueueOk(s, newJob());
      await assert.rejects(s.finishPending(d!.id, { status: 'completed', endedAt: 9 }));
      assert.equal((await s.get(d!.id))?.status, 'pending');
    }));

  it('releases only an in_progress job, back to its place', () =>
    withStore(f, async (s) => {
      const [a, b] = await enqueueOk(s, newJob({ priority: 3 }), newJob({ priority: 3 }));
      assert.equal(await s.release(a!.id), null);
      const claimed = await s.claimNext('w1', 100, 200);
      assert.equal(claimed?.id, a!.id);
      const [, front] = await enqueueOk(s, newJob({ priority: 3 }), newJob({ priority: 3, front: true }));
      const error = { type: 'worker_lost', message: 'worker went offline' };
      const back = await s.release(a!.id, error);
      assert.equal(back?.status, 'pending');
      assert.equal(back?.priority, 3);
      assert.equal(back?.position, a!.position);
      assert.equal(back?.worker, null);
      assert.equal(back?.leaseUntil, null);
      assert.equal(back?.startedAt, null);
      assert.equal(back?.attempts, 1);
      assert.deepEqual(back?.error, error);
      // back to its place: behind only the job put at the front while it was away
      const ids = await pendingIds(s);
      assert.equal(ids[0], front!.id);
      assert.equal(ids[1], a!.id);
      assert.ok(ids.indexOf(b!.id) > 1);
      assert.equal(await s.release(a!.id), null);
      const again = await claimId(s, a!.id, 'w2', 300);
      assert.equal(again.attempts, 2);
      await s.finish(a!.id, { status: 'completed', endedAt: 400 });
      assert.equal(await s.release(a!.id), null);
      assert.equal(await s.release('no-such-id'), null);
    }));

  it('changes priority of pending jobs only', () =>
    withStore(f, async (s) => {
      const [a, b, c] = await enqueueOk(s, newJob(), newJob(), newJob());
      const raised = await s.setPriority(c!.id, 10);
      assert.equal(raised?.priority, 10);
      assert.equal(raised?.position, c!.position);
      assert.equal((await pendingIds(s))[0], c!.id);
      await claimId(s, b!.id);
      assert.equal(await s.setPriority(b!.id, 99), null);
      assert.equal((await s.get(b!.id))?.priority, 0);
      await s.finishPending(a!.id, { status: 'cancelled', endedAt: 1 });
      assert.equal(await s.setPriority(a!.id, 99), null);
      assert.equal(await s.setPriority('no-such-id', 1), null);
    }));

  it('renames and flags a job in any status', () =>
    withStore(f, async (s) => {
      const [a, b, c] = await enqueueOk(s, newJob(), newJob(), newJob());
      await claimId(s, b!.id);
      await claimId(s, c!.id);
      await s.finish(c!.id, { status: 'completed', endedAt: 1 });
      for (const id of [a!.id, b!.id, c!.id]) {
        assert.equal((await s.rename(id, 'Ünïcode ✓'))?.name, 'Ünïcode ✓');
        assert.equal((await s.setFlagged(id, true))?.flagged, true);
        assert.equal((await s.get(id))?.name, 'Ünïcode ✓');
      }
      assert.equal((await s.rename(a!.id, null))?.name, null);
      assert.equal((await s.setFlagged(a!.id, false))?.flagged, false);
      assert.equal((await s.get(b!.id))?.status, 'in_progress');
      assert.equal(await s.rename('no-such-id', 'x'), null);
      assert.equal(await s.setFlagged('no-such-id', true), null);
    }));
}
