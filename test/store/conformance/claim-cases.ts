import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Job } from '../../../src/domain/job.js';
import { enqueueOk, newJob, type StoreFactory, withStore } from './harness.js';

export function claimCases(f: StoreFactory): void {
  it('claims in run order and marks the job as dispatched', () =>
    withStore(f, async (s) => {
      const [a, b, c] = await enqueueOk(s, newJob(), newJob({ priority: 1 }), newJob());
      const first = await s.claimNext('w1', 1000, 61_000);
      assert.equal(first?.id, b!.id);
      assert.equal(first?.status, 'in_progress');
      assert.equal(first?.worker, 'w1');
      assert.equal(first?.leaseUntil, 61_000);
      assert.equal(first?.startedAt, 1000);
      assert.equal(first?.attempts, 1);
      assert.deepEqual(await s.get(b!.id), first);
      assert.equal((await s.claimNext('w2', 1001, 2000))?.id, a!.id);
      assert.equal((await s.claimNext('w2', 1002, 2000))?.id, c!.id);
      assert.equal(await s.claimNext('w2', 1003, 2000), null);
      assert.deepEqual((await s.listInProgress()).map((j) => j.id).sort(), [a!.id, b!.id, c!.id].sort());
    }));

  it('skips excluded jobs', () =>
    withStore(f, async (s) => {
      const [a, b] = await enqueueOk(s, newJob(), newJob());
      assert.equal((await s.claimNext('w1', 1, 2, [a!.id]))?.id, b!.id);
      assert.equal(await s.claimNext('w1', 1, 2, [a!.id]), null);
      assert.equal((await s.claimNext('w1', 1, 2, []))?.id, a!.id);
    }));

  it('never hands one job to two concurrent claims', () =>
    withStore(f, async (s) => {
      await enqueueOk(s, ...Array.from({ length: 30 }, () => newJob()));
      const peer = await f.openAgain(s);
      try {
        const claims = await Promise.all(
          Array.from({ length: 45 }, (_, i) => (i % 2 ? peer : s).claimNext(`w${i}`, i, i + 100)),
        );
        const got = claims.filter((j): j is Job => j !== null);
        assert.equal(got.length, 30);
        assert.equal(new Set(got.map((j) => j.id)).size, 30);
        for (const j of got) assert.equal((await s.get(j.id))?.worker, j.worker);
        const counts = await s.counts();
        assert.equal(counts.pending, 0);
        assert.equal(counts.in_progress, 30);
      } finally {
        if (peer !== s) await peer.close();
      }
    }));

  it('renews leases only of in_progress jobs held by that worker', () =>
    withStore(f, async (s) => {
      const [a, b, c] = await enqueueOk(s, newJob(), newJob(), newJob());
      await s.claimNext('w1', 1, 100);
      await s.claimNext('w2', 1, 100);
      await s.renewLeases('w1', [a!.id, b!.id, c!.id], 500);
      assert.equal((await s.get(a!.id))?.leaseUntil, 500);
      assert.equal((await s.get(b!.id))?.leaseUntil, 100);
      assert.equal((await s.get(c!.id))?.leaseUntil, null);
      await s.renewLeases('w1', [], 900);
      assert.equal((await s.get(a!.id))?.leaseUntil, 500);
    }));
}
