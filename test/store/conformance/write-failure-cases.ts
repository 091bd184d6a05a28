import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { JobStore } from '../../../src/store/job-store.js';
import { claimId, enqueueOk, newJob, pendingIds, type StoreFactory, withStore } from './harness.js';

/** A write refused because another process holds the database: STORE_BUSY, 503. */
async function refusedBusy(what: string, write: () => Promise<unknown>): Promise<void> {
  await assert.rejects(write, (err: unknown) => {
    const e = err as { code?: string; status?: number; message?: string };
    assert.equal(e.code, 'STORE_BUSY', `${what}: ${String(err)}`);
    assert.equal(e.status, 503);
    assert.match(e.message ?? '', /locked by another process/);
    return true;
  });
}

async function snapshot(s: JobStore, ids: string[]) {
  return {
    jobs: await Promise.all(ids.map((id) => s.get(id))),
    pending: await pendingIds(s),
    counts: await s.counts(),
    setting: await s.getSetting('k'),
  };
}

export function writeFailureCases(f: StoreFactory): void {
  it('refuses every write while another process holds the write lock, and changes nothing', () =>
    withStore(f, async (s) => {
      const [a, b, c] = await enqueueOk(s, newJob(), newJob(), newJob());
      await claimId(s, a!.id);
      await s.setSetting('k', 'v');
      const before = await snapshot(s, [a!.id, b!.id, c!.id]);
      const release = await f.holdWriteLock(s);
      try {
        await refusedBusy('claimNext', () => s.claimNext('w2', 5, 10));
        await refusedBusy('finish', () => s.finish(a!.id, { status: 'completed', endedAt: 5 }, 'w1'));
        await refusedBusy('finishAndClaim', () =>
          s.finishAndClaim(a!.id, { status: 'completed', endedAt: 5 }, 'w1', { now: 5, leaseUntil: 9 }),
        );
        await refusedBusy('release', () => s.release(a!.id, null, 'w1'));
        await refusedBusy('renewLeases', () => s.renewLeases('w1', [a!.id], 99));
        await refusedBusy('finishPending', () => s.finishPending(b!.id, { status: 'cancelled', endedAt: 5 }));
        await refusedBusy('setPriority', () => s.setPriority(b!.id, 7));
        await refusedBusy('setFlagged', () => s.setFlagged(b!.id, true));
        await refusedBusy('rename', () => s.rename(b!.id, 'renamed'));
        await refusedBusy('reorder', () => s.reorder([c!.id]));
        await refusedBusy('delete', () => s.delete([c!.id], ['pending']));
        await refusedBusy('enqueue', () => s.enqueue([newJob()]));
        await refusedBusy('setSetting', () => s.setSetting('k', 'changed'));
        assert.equal(s.health().state, 'locked');
        assert.match(s.health().message ?? '', /locked by another process/);
        // Reads answer while the lock is held.
        assert.deepEqual(await snapshot(s, [a!.id, b!.id, c!.id]), before);
      } finally {
        await release();
      }
      assert.deepEqual(await snapshot(s, [a!.id, b!.id, c!.id]), before);
      assert.equal((await s.setFlagged(b!.id, true))?.flagged, true);
      assert.deepEqual(s.health(), { state: 'ok', message: null, since: null });
    }));

  it('commits writes that waited for a lock in the order they were asked, once it is released', () =>
    withStore(f, async (s) => {
      const [a] = await enqueueOk(s, newJob());
      const release = await f.holdWriteLock(s);
      const first = s.setFlagged(a!.id, true);
      const second = s.rename(a!.id, 'second');
      const third = s.setFlagged(a!.id, false);
      await release();
      assert.equal((await first)?.flagged, true);
      assert.equal((await second)?.name, 'second');
      const last = await third;
      assert.equal(last?.flagged, false);
      assert.equal(last?.name, 'second');
      assert.deepEqual(await s.get(a!.id), last);
    }));
}
