import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveServeConfig } from '../../src/cli/config.js';
import type { NewJob } from '../../src/domain/job.js';
import { MemoryEventBus } from '../../src/engine/events.js';
import { Retention } from '../../src/engine/retention.js';
import { PLACEHOLDER_PNG } from '../../src/media/png-metadata.js';
import { storeKinds } from './store-kinds.js';

const DAY = 86_400_000;

function job(i: number, createdAt: number): NewJob {
  return {
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    name: null,
    prompt: { '1': { class_type: 'EmptyImage', inputs: {} } },
    workflow: null,
    extraData: {},
    sensitive: null,
    clientId: null,
    priority: 0,
    front: false,
    createdAt,
    targets: null,
    requeuedFrom: null,
  };
}

for (const kind of storeKinds('retention'))
  test(`${kind.name}: retention deletes the oldest finished jobs beyond a count or an age, and thumbnails beyond a size`, async () => {
    const store = await kind.open();
    const bus = new MemoryEventBus();
    const deleted: string[] = [];
    bus.subscribe((e) => {
      if (e.type === 'job.deleted') deleted.push(...e.ids);
    });
    try {
      const now = 100 * DAY;
      const jobs = Array.from({ length: 1_200 }, (_, i) =>
        job(i, now - (1_200 - i) * 60_000 - (i < 10 ? 30 * DAY : 0)),
      );
      await store.enqueue(jobs);
      for (const j of jobs.slice(0, 1_190))
        await store.finishPending(j.id, { status: 'cancelled', endedAt: j.createdAt + 1 });
      for (const j of jobs.slice(0, 50))
        await store.putThumbnail(j.id, { png: PLACEHOLDER_PNG, width: 1, height: 1, createdAt: j.createdAt });

      await new Retention(
        store,
        bus,
        { keepJobs: null, keepDays: 7, keepThumbsMb: null },
        () => now,
      ).runOnce();
      assert.deepEqual(
        deleted.sort(),
        jobs.slice(0, 10).map((j) => j.id),
      );
      assert.equal((await store.thumbnailTotals()).count, 40);

      await new Retention(
        store,
        bus,
        { keepJobs: 500, keepDays: null, keepThumbsMb: null },
        () => now,
      ).runOnce();
      const counts = await store.counts();
      assert.equal(counts.cancelled, 500);
      assert.equal(counts.pending, 10, 'pending jobs are never pruned');
      const oldestKept = (
        await store.listJobs({ statuses: ['cancelled'], sort: 'created_at', order: 'asc', limit: 1 })
      ).jobs[0]!;
      assert.equal(oldestKept.id, jobs[690]!.id);

      for (const j of jobs.slice(700, 760))
        await store.putThumbnail(j.id, { png: PLACEHOLDER_PNG, width: 1, height: 1, createdAt: j.createdAt });
      await new Retention(
        store,
        bus,
        { keepJobs: null, keepDays: null, keepThumbsMb: 0 },
        () => now,
      ).runOnce();
      assert.deepEqual(await store.thumbnailTotals(), { count: 0, bytes: 0 });
      assert.equal((await store.counts()).cancelled, 500, 'jobs keep their history without a thumbnail');
    } finally {
      await store.close();
    }
  });

test('--keep-jobs, --keep-days and --keep-thumbs-mb, and their environment variables', () => {
  assert.deepEqual(resolveServeConfig([], {}).retention, {
    keepJobs: null,
    keepDays: null,
    keepThumbsMb: null,
  });
  assert.deepEqual(
    resolveServeConfig(['--keep-jobs', '1000', '--keep-thumbs-mb', '512'], { COMFY_QUEUE_KEEP_DAYS: '30' })
      .retention,
    { keepJobs: 1000, keepDays: 30, keepThumbsMb: 512 },
  );
  assert.throws(() => resolveServeConfig(['--keep-days', '0'], {}), /--keep-days/);
  assert.throws(() => resolveServeConfig(['--keep-jobs', 'many'], {}), /--keep-jobs/);
});
