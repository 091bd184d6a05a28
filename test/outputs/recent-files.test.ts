import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OutputFileRef } from '../../src/domain/thumbnail-source.js';
import { RecentFiles } from '../../src/outputs/recent-files.js';

const file = (filename: string): OutputFileRef => ({ filename, subfolder: '', type: 'output' });

function counting(bytes = 10) {
  const asked: string[] = [];
  let fail = false;
  const fetch = async (worker: string, f: OutputFileRef) => {
    asked.push(`${worker}/${f.filename}`);
    await new Promise((r) => setImmediate(r));
    if (fail) throw new Error('worker away');
    return Buffer.alloc(bytes, asked.length);
  };
  return {
    asked,
    fetch,
    failNext(v: boolean) {
      fail = v;
    },
  };
}

test('readers of one job file share one fetch; another job or worker fetches its own', async () => {
  const src = counting();
  const files = new RecentFiles(src.fetch, { now: () => 0, readers: 3 });
  const [a, b] = await Promise.all([
    files.get('j1', 'w1', file('x.png')),
    files.get('j1', 'w1', file('x.png')),
  ]);
  assert.equal(a, b);
  assert.deepEqual(src.asked, ['w1/x.png']);
  await files.get('j1', 'w1', file('x.png'));
  assert.equal(src.asked.length, 1, 'a later reader within the age limit is served too');
  await files.get('j1', 'w1', file('x.png'));
  assert.equal(src.asked.length, 2, 'once every reader had it, the worker is asked again');
  await files.get('j2', 'w1', file('x.png'));
  await files.get('j1', 'w2', file('x.png'));
  await files.get('j1', 'w1', file('y.png'));
  assert.equal(src.asked.length, 5);
});

test('a failed fetch fails its readers and is not kept', async () => {
  const src = counting();
  const files = new RecentFiles(src.fetch, { now: () => 0 });
  src.failNext(true);
  await assert.rejects(files.get('j1', 'w1', file('x.png')), /worker away/);
  src.failNext(false);
  assert.equal((await files.get('j1', 'w1', file('x.png'))).length, 10);
  assert.equal(src.asked.length, 2);
});

test('a file is fetched again once older than the age limit', async () => {
  const src = counting();
  let now = 0;
  const files = new RecentFiles(src.fetch, { now: () => now, ttlMs: 1_000, readers: 3 });
  await files.get('j1', 'w1', file('x.png'));
  now = 999;
  await files.get('j1', 'w1', file('x.png'));
  assert.equal(src.asked.length, 1);
  now = 1_000;
  await files.get('j1', 'w1', file('x.png'));
  assert.equal(src.asked.length, 2);
});

test('beyond the byte limit the oldest files go first', async () => {
  const src = counting(400);
  const files = new RecentFiles(src.fetch, { now: () => 0, maxBytes: 1_000, readers: 9 });
  await files.get('j1', 'w1', file('a.png'));
  await files.get('j2', 'w1', file('b.png'));
  await files.get('j3', 'w1', file('c.png'));
  assert.equal(files.heldBytes, 800);
  await files.get('j2', 'w1', file('b.png'));
  await files.get('j3', 'w1', file('c.png'));
  assert.equal(src.asked.length, 3, 'the two newest are still held');
  await files.get('j1', 'w1', file('a.png'));
  assert.equal(src.asked.length, 4, 'the oldest was let go');
});

test('with one reader nothing is kept', async () => {
  const src = counting();
  const files = new RecentFiles(src.fetch, { now: () => 0, readers: 1 });
  await files.get('j1', 'w1', file('x.png'));
  await files.get('j1', 'w1', file('x.png'));
  assert.equal(src.asked.length, 2);
  assert.equal(files.heldBytes, 0);
});
