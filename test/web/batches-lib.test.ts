import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addFinished, type BatchThroughput, ReadOrder, shownChanges } from '../../web/src/lib/batches.js';

const chart = (buckets: [number, number, number][]): BatchThroughput => ({
  batch_id: 1,
  span: 'life',
  from: buckets[0]?.[0] ?? 0,
  bucket_ms: 10_000,
  buckets: buckets.map(([start, completed, failed]) => ({ start, completed, failed })),
});

test('items finished live are added to the bucket that holds their time', () => {
  const t = addFinished(
    chart([
      [0, 1, 0],
      [10_000, 2, 0],
    ]),
    19_999,
    3,
    1,
  );
  assert.deepEqual(t.buckets.at(-1), { start: 10_000, completed: 5, failed: 1 });
});

test('time past the last bucket adds the buckets between, empty', () => {
  const t = addFinished(chart([[0, 1, 0]]), 31_000, 2, 0);
  assert.deepEqual(
    t.buckets.map((b) => [b.start, b.completed]),
    [
      [0, 1],
      [10_000, 0],
      [20_000, 0],
      [30_000, 2],
    ],
  );
});

test('nothing finished, or finished before the last bucket: the chart is unchanged', () => {
  const c = chart([
    [0, 1, 0],
    [10_000, 2, 0],
  ]);
  assert.equal(addFinished(c, 15_000, 0, 0), c);
  assert.equal(addFinished(c, 5_000, 4, 0), c);
});

test('a chart that grows live keeps its last 120 buckets', () => {
  const t = addFinished(chart([[0, 1, 0]]), 200 * 10_000, 1, 0);
  assert.equal(t.buckets.length, 120);
  assert.equal(t.from, t.buckets[0]!.start);
  assert.equal(t.buckets.at(-1)!.start, 2_000_000);
});

test('only the changed items in view are read again', () => {
  assert.deepEqual(shownChanges([1, 40, 41, 90, 91], 40, 89), [41, 90]);
});

test('an answer to an older read does not replace an item a newer read set', () => {
  const order = new ReadOrder();
  const older = order.start();
  const newer = order.start();
  assert.equal(order.take(7, newer), true, 'the newer answer comes back first');
  assert.equal(order.take(7, older), false, 'the older one, late, is not shown');
  assert.equal(order.take(8, older), true, 'for an item the newer read did not answer, it is');
  assert.equal(order.take(7, order.start()), true, 'a later read is shown again');
});
