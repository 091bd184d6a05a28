import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { fillBuckets, MAX_BUCKETS, throughputWindow } from '../../src/domain/batch-throughput.js';

const MIN = 60_000;
const T0 = 1_767_225_600_000; // a whole day, so every bucket size is aligned at T0

test('a batch five minutes old is counted in ten-second buckets', () => {
  const w = throughputWindow('life', T0, T0 + 5 * MIN + 5_000);
  assert.deepEqual(w, { from: T0, bucketMs: 10_000, buckets: 31 });
});

test('a batch a day old is counted in quarter hours', () => {
  const w = throughputWindow('life', T0 + 1_000, T0 + 24 * 60 * MIN);
  assert.equal(w.bucketMs, 15 * MIN);
  assert.equal(w.from, T0);
  assert.equal(w.buckets, 97);
});

test('the last hour is sixty one-minute buckets, the last one holding now', () => {
  const now = T0 + 90 * MIN + 30_000;
  const w = throughputWindow('hour', T0, now);
  assert.deepEqual(w, { from: T0 + 31 * MIN, bucketMs: MIN, buckets: 60 });
  assert.ok(w.from + (w.buckets - 1) * w.bucketMs <= now && now < w.from + w.buckets * w.bucketMs);
});

test('a batch that ran for years keeps the last MAX_BUCKETS days', () => {
  const w = throughputWindow('life', T0, T0 + 1_000 * 86_400_000 + 5);
  assert.equal(w.bucketMs, 86_400_000);
  assert.equal(w.buckets, MAX_BUCKETS);
});

test('any batch: the window is aligned, at most MAX_BUCKETS, covers now and starts no earlier than needed', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 400 * 86_400_000 }),
      fc.integer({ min: 0, max: 10 * 86_400_000 }),
      (age, at) => {
        const createdAt = T0 + at;
        const now = createdAt + age;
        const w = throughputWindow('life', createdAt, now);
        assert.equal(w.from % w.bucketMs, 0);
        assert.ok(w.buckets >= 1 && w.buckets <= MAX_BUCKETS);
        assert.ok(now >= w.from + (w.buckets - 1) * w.bucketMs && now < w.from + w.buckets * w.bucketMs);
        if (w.bucketMs < 86_400_000) assert.ok(w.from <= createdAt, 'a young batch is shown whole');
      },
    ),
  );
});

test('fills the buckets the store had none for with zeros', () => {
  const w = { from: T0, bucketMs: MIN, buckets: 3 };
  assert.deepEqual(fillBuckets(w, [{ start: T0 + MIN, completed: 4, failed: 1 }]), [
    { start: T0, completed: 0, failed: 0 },
    { start: T0 + MIN, completed: 4, failed: 1 },
    { start: T0 + 2 * MIN, completed: 0, failed: 0 },
  ]);
});
