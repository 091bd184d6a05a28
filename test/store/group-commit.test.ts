import assert from 'node:assert/strict';
import { it } from 'node:test';
import { GroupCommit } from '../../src/store/sqlite/group-commit.js';

it('writes the requests of one turn together and answers each its own result', async () => {
  const batches: number[][] = [];
  const group = new GroupCommit<number, string>((items) => {
    batches.push([...items]);
    return items.map((n) => `r${n}`);
  });
  const first = await Promise.all([group.submit(1), group.submit(2), group.submit(3)]);
  assert.deepEqual(first, ['r1', 'r2', 'r3']);
  assert.deepEqual(await group.submit(4), 'r4');
  assert.deepEqual(batches, [[1, 2, 3], [4]]);
});

it('rejects every request of a batch whose write fails, and recovers after', async () => {
  let fail = true;
  const group = new GroupCommit<number, number>((items) => {
    if (fail) throw new Error('disk full');
    return [...items];
  });
  const results = await Promise.allSettled([group.submit(1), group.submit(2)]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['rejected', 'rejected'],
  );
  fail = false;
  assert.equal(await group.submit(3), 3);
});

it('writes at once on flush, without waiting for the turn to end', async () => {
  const written: number[] = [];
  const group = new GroupCommit<number, number>((items) => {
    written.push(...items);
    return [...items];
  });
  const p = group.submit(7);
  group.flush();
  assert.deepEqual(written, [7]);
  assert.equal(await p, 7);
});

it('settles the requests of a write that waits (a lock) only once it has committed or failed', async () => {
  const pending: { finish: (() => void) | null } = { finish: null };
  let fail = false;
  const group = new GroupCommit<number, number>(
    (items) =>
      new Promise<number[]>((resolve, reject) => {
        pending.finish = () => (fail ? reject(new Error('locked')) : resolve(items.map((n) => n * 10)));
      }),
  );
  let settled = false;
  const first = Promise.all([group.submit(1), group.submit(2)]).finally(() => {
    settled = true;
  });
  await new Promise((r) => setImmediate(r));
  assert.ok(pending.finish, 'the batch was handed to the writer');
  await Promise.resolve();
  assert.equal(settled, false);
  pending.finish!();
  assert.deepEqual(await first, [10, 20]);

  fail = true;
  const second = Promise.allSettled([group.submit(3)]);
  await new Promise((r) => setImmediate(r));
  pending.finish!();
  assert.deepEqual(
    (await second).map((r) => r.status),
    ['rejected'],
  );
});
