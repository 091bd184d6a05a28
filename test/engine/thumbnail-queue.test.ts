import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { MemoryEventBus } from '../../src/engine/events.js';
import { ThumbnailQueue } from '../../src/engine/thumbnail-queue.js';
import type { JobStore } from '../../src/store/job-store.js';

/** A store whose thumbnail writes wait until the test lets them commit (or fail). */
function holdingStore() {
  const writes: { jobId: string; commit: () => void; fail: (e: Error) => void }[] = [];
  const store = {
    putThumbnail: (jobId: string) =>
      new Promise<boolean>((resolve, reject) => {
        writes.push({ jobId, commit: () => resolve(true), fail: reject });
      }),
  } as unknown as JobStore;
  return { store, writes };
}

function setup() {
  const { store, writes } = holdingStore();
  const made: string[] = [];
  const queue = new ThumbnailQueue(store, new MemoryEventBus(), {
    fetchFile: async (_w, file) => Buffer.from(file.filename),
    make: async (bytes) => {
      made.push(bytes.toString());
      return { png: bytes, width: 1, height: 1 };
    },
    now: () => 1,
    concurrency: 1,
  });
  const finish = (n: number) =>
    queue.request({
      id: `job-${n}`,
      worker: 'w1',
      outputs: { '9': { images: [{ filename: `img-${n}.png`, subfolder: '', type: 'output' }] } },
    });
  return { queue, writes, made, finish };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await tick();
}

test('the next thumbnail is made while the last one waits for its commit; idle() waits for the writes', async () => {
  const { queue, writes, made, finish } = setup();
  for (let n = 1; n <= 3; n++) assert.ok(finish(n));
  await settle();
  assert.deepEqual(made, ['img-1.png', 'img-2.png', 'img-3.png'], 'made without waiting for a commit');
  assert.equal(writes.length, 3);
  let idle = false;
  void queue.idle().then(() => {
    idle = true;
  });
  writes[0]!.commit();
  writes[1]!.commit();
  await settle();
  assert.equal(idle, false, 'a write is still under way');
  assert.equal(queue.made, 2);
  writes[2]!.commit();
  await settle();
  assert.equal(idle, true);
  assert.equal(queue.made, 3);
});

test('at most 8 thumbnails wait for their writes: making waits beyond', async () => {
  const { writes, made, finish } = setup();
  for (let n = 1; n <= 12; n++) finish(n);
  await settle();
  assert.equal(made.length, 8);
  assert.equal(writes.length, 8);
  writes[0]!.commit();
  await settle();
  assert.equal(made.length, 9, 'one write done: one more made');
});

test('a write that fails counts as a failure; the job is not asked again', async () => {
  const { queue, writes, finish } = setup();
  finish(1);
  await settle();
  writes[0]!.fail(new Error('disk full'));
  await queue.idle();
  assert.equal(queue.failures, 1);
  assert.equal(queue.made, 0);
  assert.equal(finish(1), false, 'remembered as failed');
});
