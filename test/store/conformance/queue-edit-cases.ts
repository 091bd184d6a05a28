import assert from 'node:assert/strict';
import { it } from 'node:test';
import { claimId, enqueueOk, newJob, pendingIds, type StoreFactory, withStore } from './harness.js';

export function queueEditCases(f: StoreFactory): void {
  it('reorders the listed pending jobs ahead of the others, moving only them', () =>
    withStore(f, async (s) => {
      const [a, b, c, d] = await enqueueOk(s, newJob(), newJob(), newJob(), newJob());
      assert.equal(await s.reorder([d!.id, b!.id]), 2);
      assert.deepEqual(await pendingIds(s), [d!.id, b!.id, a!.id, c!.id]);
      assert.equal((await s.get(a!.id))?.position, a!.position);
      assert.equal((await s.get(c!.id))?.position, c!.position);
      assert.equal(await s.reorder([c!.id]), 1);
      assert.deepEqual(await pendingIds(s), [c!.id, d!.id, b!.id, a!.id]);
    }));

  it('places pending jobs (priority and position) in one write, skipping those no longer pending', () =>
    withStore(f, async (s) => {
      const [a, b, c, d] = await enqueueOk(s, newJob(), newJob(), newJob(), newJob());
      await claimId(s, d!.id);
      const moved = await s.placePending([
        { id: c!.id, priority: 3, fair: 0, position: -2 },
        { id: a!.id, priority: 0, fair: b!.fair ?? 0, position: b!.position + 0.5 },
        { id: d!.id, priority: 9, fair: 0, position: -9 },
        { id: 'no-such-id', priority: 9, fair: 0, position: -9 },
      ]);
      assert.equal(moved, 2);
      assert.deepEqual(await pendingIds(s), [c!.id, b!.id, a!.id]);
      const placed = await s.get(c!.id);
      assert.equal(placed?.priority, 3);
      assert.equal(placed?.position, -2);
      assert.equal((await s.get(a!.id))?.position, b!.position + 0.5);
      const running = await s.get(d!.id);
      assert.equal(running?.status, 'in_progress');
      assert.equal(running?.priority, 0);
      assert.equal(running?.position, d!.position);
      assert.equal(await s.placePending([]), 0);
    }));

  it('reorders within each priority, never across priorities', () =>
    withStore(f, async (s) => {
      const [lo1, lo2, hi1, hi2] = await enqueueOk(
        s,
        newJob(),
        newJob(),
        newJob({ priority: 1 }),
        newJob({ priority: 1 }),
      );
      assert.equal(await s.reorder([lo2!.id, hi2!.id]), 2);
      assert.deepEqual(await pendingIds(s), [hi2!.id, hi1!.id, lo2!.id, lo1!.id]);
    }));

  it('ignores unknown, repeated and non-pending ids when reordering', () =>
    withStore(f, async (s) => {
      const [a, b, c] = await enqueueOk(s, newJob(), newJob(), newJob());
      const running = await claimId(s, a!.id);
      assert.equal(await s.reorder(['no-such-id', c!.id, a!.id, c!.id, b!.id]), 2);
      assert.deepEqual(await pendingIds(s), [c!.id, b!.id]);
      assert.equal((await s.get(a!.id))?.position, running.position);
      assert.equal(await s.reorder([]), 0);
    }));

  it('deletes only jobs in the given statuses', () =>
    withStore(f, async (s) => {
      const [a, b, c, d] = await enqueueOk(s, newJob(), newJob(), newJob(), newJob());
      await claimId(s, b!.id);
      await claimId(s, c!.id);
      await s.finish(c!.id, { status: 'completed', endedAt: 1 });
      const all = [a!.id, b!.id, c!.id, d!.id, 'no-such-id'];
      assert.deepEqual((await s.delete(all, ['completed', 'failed', 'cancelled'])).sort(), [c!.id]);
      assert.deepEqual((await s.delete([a!.id, b!.id], ['pending'])).sort(), [a!.id]);
      assert.deepEqual(await s.delete(all, []), []);
      assert.deepEqual(await s.delete([], ['pending']), []);
      assert.equal(await s.get(a!.id), null);
      assert.equal(await s.get(c!.id), null);
      assert.equal((await s.get(b!.id))?.status, 'in_progress');
      assert.deepEqual(await s.counts(), {
        pending: 1,
        in_progress: 1,
        completed: 0,
        failed: 0,
        cancelled: 0,
      });
    }));

  it('counts jobs by status', () =>
    withStore(f, async (s) => {
      assert.deepEqual(await s.counts(), {
        pending: 0,
        in_progress: 0,
        completed: 0,
        failed: 0,
        cancelled: 0,
      });
      const jobs = await enqueueOk(s, ...Array.from({ length: 8 }, () => newJob()));
      const [j0, j1, j2, j3, j4] = jobs.map((j) => j.id) as [string, string, string, string, string];
      for (const id of [j0, j1, j2, j3]) await claimId(s, id);
      await s.finish(j0, { status: 'completed', endedAt: 1 });
      await s.finish(j1, { status: 'failed', endedAt: 1 });
      await s.finish(j2, { status: 'cancelled', endedAt: 1 });
      await s.release(j3);
      await s.finishPending(j4, { status: 'cancelled', endedAt: 1 });
      assert.deepEqual(await s.counts(), {
        pending: 4,
        in_progress: 0,
        completed: 1,
        failed: 1,
        cancelled: 2,
      });
    }));

  it('keeps settings', () =>
    withStore(f, async (s) => {
      assert.equal(await s.getSetting('paused'), null);
      await s.setSetting('paused', 'true');
      await s.setSetting('client.ünï', '{"sid":"x"}');
      assert.equal(await s.getSetting('paused'), 'true');
      await s.setSetting('paused', 'false');
      assert.equal(await s.getSetting('paused'), 'false');
      assert.equal(await s.getSetting('client.ünï'), '{"sid":"x"}');
    }));

  it('keeps everything when the database is opened again', async () => {
    const s = await f.make();
    const [a, b, c] = await enqueueOk(
      s,
      newJob({ name: 'ä' }),
      newJob({ priority: 2 }),
      newJob({ front: true }),
    );
    await s.claimNext('w1', 10, 20);
    await s.setSetting('paused', 'true');
    await s.setFlagged(c!.id, true);
    const before = [await s.get(a!.id), await s.get(b!.id), await s.get(c!.id)];
    const counts = await s.counts();
    await s.close();
    const again = await f.openAgain(s);
    try {
      assert.deepEqual([await again.get(a!.id), await again.get(b!.id), await again.get(c!.id)], before);
      assert.deepEqual(await again.counts(), counts);
      assert.equal(await again.getSetting('paused'), 'true');
      const [d] = await enqueueOk(again, newJob());
      assert.ok(before.every((j) => j!.position < d!.position));
      assert.deepEqual(await pendingIds(again), [c!.id, a!.id, d!.id]);
    } finally {
      await again.close();
    }
  });
}
