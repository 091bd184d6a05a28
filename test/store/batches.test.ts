/**
 * Batches in both stores (SQLite, PostgreSQL): items derived from the
 * template, fair share between batches (by weight) and people's single jobs,
 * pause, re-runs and the tracker's marks.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { type BatchRequest, buildBatchSpec } from '../../src/domain/batch-spec.js';
import { itemId, itemIds } from '../../src/domain/ids.js';
import type { JobOutputs, PromptGraph } from '../../src/domain/job.js';
import type { TrackerStatus } from '../../src/domain/tracker-status.js';
import { type BatchItemPage, countsWithCollection, type NewBatch } from '../../src/store/batch-types.js';
import type { JobStore } from '../../src/store/job-store.js';
import { enqueueOk, newJob } from './conformance/harness.js';
import { storeKinds } from './store-kinds.js';

const graph: PromptGraph = {
  '3': { class_type: 'KSampler', inputs: { seed: 1, cfg: 7, steps: 20 } },
  '6': { class_type: 'CLIPTextEncode', inputs: { text: 'x' } },
  '9': { class_type: 'SaveImage', inputs: { filename_prefix: 'ComfyUI', images: ['8', 0] } },
};

function newBatch(name: string, req: BatchRequest, over: Partial<NewBatch> = {}): NewBatch {
  return {
    name,
    template: graph,
    workflow: null,
    extraData: {},
    spec: buildBatchSpec(req, graph, 12345),
    priority: 0,
    weight: 1,
    requires: [],
    clientId: null,
    createdAt: 1_000,
    ids: itemIds(1_000, randomBytes(9)),
    ...over,
  };
}

/** Claims everything in run order and answers who each claim was for. */
async function claimAll(s: JobStore, max = 1_000): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < max; i++) {
    const j = await s.claimNext('w', 10_000 + i, 99_999);
    if (!j) break;
    out.push(j.batch ? `${j.batch.name}` : `single:${j.clientId}`);
  }
  return out;
}

for (const kind of storeKinds('batches'))
  describe(`batches in the ${kind.name} store`, () => {
    const freshStore = () => kind.open();

    it('stores the template once and derives each item: seed, sweep, bound traits, file name', async () => {
      const s = await freshStore();
      const b = await s.createBatch(
        newBatch('faces', {
          seed: { start: 100 },
          items: [{ who: 'ann' }, { who: 'bob' }],
          bindings: { who: '6.inputs.text' },
          sweep: { '3.inputs.cfg': [5, 9] },
        }),
      );
      assert.equal(b.total, 4);
      const item3 = await s.batchItem(b.id, 3);
      assert.ok(item3);
      const item1 = await s.batchItem(b.id, 1);
      assert.ok(item1 && item1.id < item3.id, 'ids sort in item order');
      assert.equal(
        itemId({ prefix: item1.id.slice(0, 24), first: Number.parseInt(item1.id.slice(24), 16) }, 3),
        item3.id,
      );
      assert.equal(item3.prompt['3']!.inputs.seed, 101);
      assert.equal(item3.prompt['3']!.inputs.cfg, 5);
      assert.equal(item3.prompt['6']!.inputs.text, 'bob');
      assert.equal(item3.prompt['9']!.inputs.filename_prefix, 'faces/3');
      assert.equal(item3.name, 'faces/3');
      assert.deepEqual(item3.batch, { id: b.id, index: 3, name: 'faces', current: true });
      assert.equal((await s.counts()).pending, 4);
      const listed = await s.listJobs({ statuses: ['pending'], limit: 10 });
      assert.deepEqual(listed.jobs.map((j) => j.name).sort(), ['faces/1', 'faces/2', 'faces/3', 'faces/4']);
      await s.close();
    });

    it('takes batches and single jobs in turns at equal priority, batches by weight', async () => {
      const s = await freshStore();
      await s.createBatch(newBatch('A', { count: 6 }));
      await s.createBatch(newBatch('B', { count: 12 }, { weight: 2 }));
      await enqueueOk(
        s,
        newJob({ clientId: 'ann' }),
        newJob({ clientId: 'ann' }),
        newJob({ clientId: 'bob' }),
      );
      const order = await claimAll(s, 9);
      // Start tags: A 0,1,2…; B 0,.5,1,1.5…; ann 0,1; bob 0 — ties go by queue position.
      assert.deepEqual(order, ['A', 'B', 'single:ann', 'single:bob', 'B', 'A', 'B', 'single:ann', 'B']);
      await s.close();
    });

    it('starts a single job queued behind a big batch before the batch’s next item', async () => {
      const s = await freshStore();
      await s.createBatch(newBatch('big', { count: 2_000 }));
      assert.deepEqual(await claimAll(s, 3), ['big', 'big', 'big']);
      await enqueueOk(s, newJob({ clientId: 'me' }));
      assert.deepEqual(await claimAll(s, 2), ['single:me', 'big']);
      await s.close();
    });

    it('keeps the plain order inside one batch and one owner', async () => {
      const s = await freshStore();
      const b = await s.createBatch(newBatch('one', { count: 50 }));
      const claimed: number[] = [];
      for (;;) {
        const j = await s.claimNext('w', 1, 2);
        if (!j) break;
        claimed.push(j.batch!.index);
      }
      assert.deepEqual(
        claimed,
        Array.from({ length: b.total }, (_, i) => i + 1),
      );
      await s.close();
    });

    it('holds a paused batch out of the run order and lets it back on resume', async () => {
      const s = await freshStore();
      const b = await s.createBatch(newBatch('p', { count: 5 }));
      assert.equal(await s.setBatchPaused(b.id, true), 5);
      assert.equal((await s.listPending(10)).length, 0);
      assert.equal(await s.claimNext('w', 1, 2), null);
      assert.equal(await s.setBatchPaused(b.id, false), 5);
      assert.equal((await s.listPending(10)).length, 5);
      assert.equal(await s.setBatchPaused(999, true), null);
      await s.close();
    });

    it('re-runs failed and flagged items as new jobs, keeping the earlier runs as history', async () => {
      const s = await freshStore();
      const b = await s.createBatch(newBatch('r', { count: 3, seed: { start: 7 } }));
      const [j1, j2, j3] = [
        await s.claimNext('w', 1, 9),
        await s.claimNext('w', 1, 9),
        await s.claimNext('w', 1, 9),
      ];
      await s.finish(j1!.id, { status: 'failed', endedAt: 2, error: { type: 'x', message: 'boom' } });
      await s.finish(j2!.id, { status: 'completed', endedAt: 2, outputs: {} });
      await s.finish(j3!.id, { status: 'completed', endedAt: 2, outputs: {} });
      await s.setFlagged(j3!.id, true);
      assert.deepEqual((await s.batchCounts(b.id)).tracker, {
        inactive: 0,
        working: 0,
        complete: 1,
        done: 0,
        error: 1,
        flagged: 1,
      });
      const again = await s.rerunBatchItems(b.id, { kind: 'failed' }, 3, randomUUID);
      assert.deepEqual(
        again.map((j) => [j.batch?.index, j.prompt['3']!.inputs.seed]),
        [[1, 7]],
      );
      const flaggedAgain = await s.rerunBatchItems(b.id, { kind: 'flagged' }, 3, randomUUID);
      assert.deepEqual(
        flaggedAgain.map((j) => j.batch?.index),
        [3],
      );
      assert.equal((await s.batchItem(b.id, 1))?.id, again[0]!.id);
      const old = await s.get(j1!.id);
      assert.equal(old?.status, 'failed');
      assert.equal(old?.batch?.current, false);
      assert.equal(old!.prompt['3']!.inputs.seed, 7);
      const counts = await s.batchCounts(b.id);
      assert.equal(counts.pending, 2);
      assert.equal(counts.completed, 1);
      assert.equal(counts.failed, 0);
      await s.close();
    });

    it('marks a completed job done, and only a completed one', async () => {
      const s = await freshStore();
      const b = await s.createBatch(newBatch('d', { count: 2 }));
      const j = await s.claimNext('w', 1, 9);
      assert.equal(await s.setDone(j!.id, true), null);
      await s.finish(j!.id, { status: 'completed', endedAt: 2, outputs: {} });
      assert.equal((await s.setDone(j!.id, true))?.done, true);
      assert.equal((await s.batchCounts(b.id)).tracker.done, 1);
      await s.close();
    });

    it('deletes a batch with its jobs, but not while one runs', async () => {
      const s = await freshStore();
      const b = await s.createBatch(newBatch('del', { count: 3 }));
      const j = await s.claimNext('w', 1, 9);
      assert.equal(await s.deleteBatch(b.id), 'running');
      await s.finish(j!.id, { status: 'completed', endedAt: 2 });
      assert.equal(await s.deleteBatch(b.id), 'deleted');
      assert.equal((await s.counts()).pending, 0);
      assert.equal(await s.getBatch(b.id), null);
      assert.equal(await s.deleteBatch(b.id), 'missing');
      await s.close();
    });
    it('puts reordered items first and keeps a group’s order at a new priority (fair-share tags)', async () => {
      const s = await freshStore();
      const b = await s.createBatch(newBatch('m', { count: 4 }));
      const [ann] = await enqueueOk(s, newJob({ clientId: 'ann' }));
      const item = async (i: number) => (await s.batchItem(b.id, i))!.id;
      const order = async () =>
        (await s.listPending(10)).map((j) => (j.batch ? `m/${j.batch.index}` : `single:${j.clientId}`));
      assert.deepEqual(await order(), ['m/1', 'single:ann', 'm/2', 'm/3', 'm/4']);
      assert.equal(await s.reorder([await item(4)]), 1);
      assert.deepEqual(await order(), ['m/4', 'm/1', 'single:ann', 'm/2', 'm/3']);
      // At a new priority the item takes the tag of the batch's next item there, or a later one.
      assert.equal((await s.setPriority(await item(3), 1))?.priority, 1);
      assert.equal((await s.setPriority(await item(2), 1))?.priority, 1);
      assert.deepEqual(await order(), ['m/2', 'm/3', 'm/4', 'm/1', 'single:ann']);
      assert.equal((await s.setPriority(ann!.id, 2))?.priority, 2);
      assert.equal((await order())[0], 'single:ann');
      await s.close();
    });

    it('gives a batch’s pending items new turns when its weight or priority changes', async () => {
      const s = await freshStore();
      const a = await s.createBatch(newBatch('A', { count: 6 }));
      const b = await s.createBatch(newBatch('B', { count: 6 }));
      assert.equal((await s.updateBatch(b.id, { weight: 2 }))?.weight, 2);
      assert.deepEqual(await claimAll(s, 7), ['A', 'B', 'B', 'A', 'B', 'B', 'A']);
      const up = await s.updateBatch(a.id, { priority: 3, name: 'A2' });
      assert.equal(up?.priority, 3);
      assert.equal(up?.name, 'A2');
      assert.deepEqual(await claimAll(s, 4), ['A2', 'A2', 'A2', 'B']);
      assert.equal(await s.updateBatch(999, { weight: 1 }), null);
      await s.close();
    });

    it("counts a batch's items, and their later runs, in the queue's counts", async () => {
      const s = await freshStore();
      await enqueueOk(s, newJob());
      const b = await s.createBatch(newBatch('q', { count: 4 }));
      assert.equal((await s.counts()).pending, 5);
      const j = await s.claimJob((await s.batchItem(b.id, 1))!.id, 'w', 1, 9);
      await s.finish(j!.id, { status: 'failed', endedAt: 2, error: { type: 'x', message: 'no' } });
      assert.deepEqual([(await s.counts()).pending, (await s.counts()).failed], [4, 1]);
      assert.equal((await s.rerunBatchItems(b.id, { kind: 'failed' }, 3, randomUUID)).length, 1);
      assert.deepEqual([(await s.counts()).pending, (await s.counts()).failed], [5, 1]);
      await s.deleteBatch(b.id);
      assert.deepEqual([(await s.counts()).pending, (await s.counts()).failed], [1, 0]);
      await s.close();
    });

    it('lists a completed item as working until its outputs are stored, as its counts say', async () => {
      const s = await freshStore();
      const b = await s.createBatch(newBatch('k', { count: 6 }));
      const ids = await Promise.all([1, 2, 3, 4, 5, 6].map(async (i) => (await s.batchItem(b.id, i))!.id));
      for (const id of ids.slice(0, 5)) await s.claimJob(id, 'w', 1, 9);
      const complete = (id: string, endedAt: number, outputs: JobOutputs = {}) =>
        s.finish(id, { status: 'completed', endedAt, outputs });
      const stored = (id: string, endedAt: number, state: 'stored' | 'pending' | 'failed' = 'stored') =>
        s.saveCollection({
          jobId: id,
          endedAt,
          state,
          target: 'file:///out',
          files: [],
          attempts: 0,
          error: null,
          updatedAt: endedAt,
        });
      // 1: stored; 2: being copied; 3: given up; 4: an external worker's file; 5: running; 6: pending.
      await complete(ids[0]!, 100);
      assert.equal(await stored(ids[0]!, 100), true);
      await complete(ids[1]!, 100);
      assert.equal(await stored(ids[1]!, 100, 'pending'), true);
      await complete(ids[2]!, 100);
      assert.equal(await stored(ids[2]!, 100, 'failed'), true);
      await complete(ids[3]!, 100, { external: { files: [{ url: 's3://b/4.png' }] } });
      const listed = async (statuses: TrackerStatus[], collecting: boolean) =>
        (await s.listBatchItems({ batchId: b.id, statuses, collecting, limit: 10 })).jobs.map(
          (j) => j.batch!.index,
        );
      assert.deepEqual(await listed(['complete'], true), [1, 4]);
      assert.deepEqual(await listed(['working'], true), [2, 3, 5]);
      assert.deepEqual(await listed(['complete', 'inactive'], true), [1, 4, 6]);
      assert.deepEqual(await listed(['complete'], false), [1, 2, 3, 4]);
      assert.deepEqual(await listed(['working'], false), [5]);
      const counts = countsWithCollection(await s.batchCounts(b.id), true).tracker;
      assert.deepEqual([counts.complete, counts.working, counts.inactive], [2, 3, 1]);
      await s.close();
    });

    it('lists items by page, tracker status and index; counts, paces and cancels them', async () => {
      const s = await freshStore();
      await enqueueOk(s, newJob());
      const b = await s.createBatch(newBatch('c', { count: 5 }));
      const one = await s.claimJob((await s.batchItem(b.id, 1))!.id, 'w', 1, 9);
      const two = await s.claimJob((await s.batchItem(b.id, 2))!.id, 'w', 1, 9);
      await s.finish(one!.id, { status: 'completed', endedAt: 60_000, outputs: {} });
      await s.finish(two!.id, { status: 'failed', endedAt: 61_000, error: { type: 'x', message: 'no' } });
      const indexes = (p: BatchItemPage) => p.jobs.map((j) => j.batch!.index);
      const p1 = await s.listBatchItems({ batchId: b.id, limit: 2 });
      assert.deepEqual(indexes(p1), [1, 2]);
      assert.deepEqual(p1.next, { batchId: b.id, index: 2 });
      assert.equal(p1.jobs[0]!.prompt['9']!.inputs.filename_prefix, 'c/1');
      const p2 = await s.listBatchItems({ batchId: b.id, limit: 2, after: p1.next });
      assert.deepEqual(indexes(p2), [3, 4]);
      const p3 = await s.listBatchItems({ batchId: b.id, limit: 2, after: p2.next });
      assert.deepEqual(indexes(p3), [5]);
      assert.equal(p3.next, null);
      assert.deepEqual(indexes(await s.listBatchItems({ statuses: ['inactive'], limit: 10 })), [3, 4, 5]);
      assert.deepEqual(
        indexes(await s.listBatchItems({ statuses: ['complete', 'error'], limit: 10 })),
        [1, 2],
      );
      assert.deepEqual(
        indexes(await s.listBatchItems({ batchId: b.id, indexes: [2, 5], limit: 10 })),
        [2, 5],
      );
      assert.deepEqual(
        indexes(await s.listBatchItems({ batchId: b.id, fromIndex: 2, toIndex: 3, limit: 10 })),
        [2, 3],
      );
      assert.deepEqual(indexes(await s.listBatchItems({ batchId: b.id, offset: 3, limit: 10 })), [4, 5]);
      assert.equal((await s.batchJobIds(b.id, 'pending')).length, 3);
      const counts = await s.batchCounts(b.id);
      assert.deepEqual([counts.pending, counts.completed, counts.failed, counts.uncollected], [3, 1, 1, 1]);
      assert.deepEqual(await s.trackerCounts(), counts);
      assert.equal(await s.batchFinishedSince(b.id, 61_000), 1);
      assert.deepEqual(await s.finishedPerMinute(0), [{ minute: 60_000, completed: 1, failed: 1 }]);
      assert.deepEqual(await s.batchFinishedBuckets(b.id, 0, 60_000), [
        { start: 60_000, completed: 1, failed: 1 },
      ]);
      assert.deepEqual(await s.batchFinishedBuckets(b.id, 0, 1_000), [
        { start: 60_000, completed: 1, failed: 0 },
        { start: 61_000, completed: 0, failed: 1 },
      ]);
      assert.deepEqual(await s.batchFinishedBuckets(b.id, 60_500, 1_000), [
        { start: 61_000, completed: 0, failed: 1 },
      ]);
      assert.deepEqual(await s.batchFinishedBuckets(b.id + 1, 0, 1_000), []);
      assert.equal(await s.cancelBatchPending(b.id, 70_000), 3);
      assert.equal((await s.batchCounts(b.id)).cancelled, 3);
      assert.deepEqual(
        (await s.listBatches()).map((x) => [x.id, x.name, x.total]),
        [[b.id, 'c', 5]],
      );
      assert.equal((await s.getBatch(b.id))?.name, 'c');
      await s.close();
    });
  });
