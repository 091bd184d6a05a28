/**
 * The SQLite store on a disk that fills up: every write is refused with
 * STORE_FULL and none of them is answered as done or left half-done; reads
 * keep working; once space returns, writing resumes without reopening.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { QueueError } from '../../src/domain/errors.js';
import type { Job } from '../../src/domain/job.js';
import type { JobStore } from '../../src/store/job-store.js';
import { openStore } from '../../src/store/open-store.js';
import { SqliteJobStore } from '../../src/store/sqlite/sqlite-store.js';
import { until } from '../helpers/harness.js';
import { mountSmallDisk, type SmallDisk } from '../helpers/small-disk.js';
import { enqueueOk, newJob, pendingIds } from './conformance/harness.js';

const mounted = mountSmallDisk(4);
const disk: SmallDisk | null = 'reason' in mounted ? null : mounted;
const skip = 'reason' in mounted ? mounted.reason : false;
if (skip) process.stdout.write(`# disk-full tests skipped: ${skip}\n`);
after(() => disk?.unmount());

let store: JobStore;
let file: string;
before(async () => {
  if (!disk) return;
  file = join(disk.path, 'queue.db');
  store = new SqliteJobStore({ file, probeMs: 50 });
  await store.init();
});

async function refusedFull(what: string, write: () => Promise<unknown>): Promise<void> {
  await assert.rejects(write, (err: unknown) => {
    assert.ok(err instanceof QueueError, `${what}: ${String(err)}`);
    assert.equal(err.code, 'STORE_FULL', `${what}: ${err.message}`);
    assert.equal(err.status, 507);
    assert.match(err.message, /Free space in the data folder/);
    return true;
  });
}

it('refuses every write on a full disk, keeps the store as it was, and writes again once there is room', {
  skip,
}, async () => {
  const [running, waiting, other] = await enqueueOk(store, newJob(), newJob(), newJob());
  const claimed = await store.claimNext('w1', 10, 60_000, [waiting!.id, other!.id]);
  assert.equal(claimed?.id, running!.id);
  const before = new Map<string, Job | null>();
  for (const j of [running!, waiting!, other!]) before.set(j.id, await store.get(j.id));
  const order = await pendingIds(store);

  disk!.fill();
  // Big enough that the write-ahead log must grow on the full disk.
  const big = newJob({ name: 'x'.repeat(200_000) });
  await refusedFull('enqueue', () => store.enqueue([big]));
  assert.equal(store.health().state, 'full');
  assert.match(store.health().message ?? '', /full/);

  await refusedFull('claimNext', () => store.claimNext('w2', 20, 60_000));
  await refusedFull('finish', () =>
    store.finish(
      running!.id,
      { status: 'completed', endedAt: 30, outputs: { '9': { text: 'y'.repeat(200_000) } } },
      'w1',
    ),
  );
  await refusedFull('finishAndClaim', () =>
    store.finishAndClaim(running!.id, { status: 'failed', endedAt: 30 }, 'w1', { now: 30, leaseUntil: 90 }),
  );
  await refusedFull('release', () =>
    store.release(running!.id, { type: 'x', message: 'z'.repeat(200_000) }, 'w1'),
  );
  await refusedFull('finishPending', () =>
    store.finishPending(waiting!.id, {
      status: 'cancelled',
      endedAt: 30,
      error: { type: 'x', message: 'q'.repeat(200_000) },
    }),
  );
  await refusedFull('rename', () => store.rename(other!.id, 'n'.repeat(200_000)));
  await refusedFull('setSetting', () => store.setSetting('big', 's'.repeat(200_000)));
  await refusedFull('putThumbnail', () =>
    store.putThumbnail(other!.id, { png: Buffer.alloc(200_000, 1), width: 1, height: 1, createdAt: 1 }),
  );

  // Reads answer on the full disk, and nothing refused was applied.
  for (const [id, job] of before) assert.deepEqual(await store.get(id), job);
  assert.deepEqual(await pendingIds(store), order);
  assert.equal(await store.getSetting('big'), null);
  assert.equal(await store.getThumbnail(other!.id), null);
  assert.equal(await store.get(big.id), null);

  disk!.free();
  // The store notices by itself (a probe write), without any caller writing.
  await until(async () => (store.health().state === 'ok' ? true : undefined), 'the store to write again');
  assert.equal(store.health().message, null);
  const next = await store.claimNext('w2', 40, 60_000);
  assert.equal(next?.id, order[0]);
  const [stored] = await enqueueOk(store, big);
  assert.equal(stored?.name?.length, 200_000);

  // And a second connection sees exactly what was acknowledged.
  await store.close();
  const again = await openStore({ kind: 'sqlite', file });
  try {
    assert.equal((await again.get(running!.id))?.status, 'in_progress');
    assert.equal((await again.get(next!.id))?.status, 'in_progress');
    assert.equal((await again.get(big.id))?.status, 'pending');
  } finally {
    await again.close();
  }
});
