import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as flush } from 'node:timers/promises';
import fc from 'fast-check';
import { BatchPush, CHANGED_MAX, type Timer } from '../../src/api/batch-push.js';

/** A clock whose timers run only when the test moves time on. */
function manualClock() {
  let now = 0;
  let timers: { at: number; fn: () => void; live: boolean }[] = [];
  return {
    now: () => now,
    schedule: (fn: () => void, ms: number): Timer => {
      const t = { at: now + ms, fn, live: true };
      timers.push(t);
      return {
        cancel: () => {
          t.live = false;
        },
      };
    },
    async advance(to: number) {
      for (;;) {
        const due = timers.filter((t) => t.live && t.at <= to).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        now = due.at;
        due.live = false;
        timers = timers.filter((t) => t.live);
        due.fn();
        await flush();
      }
      now = to;
    },
    pending: () => timers.some((t) => t.live),
  };
}

function pushWith(clock: ReturnType<typeof manualClock>, intervalMs = 250) {
  const sent: { id: number; changed: number[] | null; at: number }[] = [];
  const push = new BatchPush({
    send: async (id, changed) => {
      sent.push({ id, changed, at: clock.now() });
    },
    now: clock.now,
    schedule: clock.schedule,
    intervalMs,
  });
  return { push, sent };
}

test('a thousand items finishing within one interval are sent as two messages: at once, then the rest', async () => {
  const clock = manualClock();
  const { push, sent } = pushWith(clock);
  for (let i = 1; i <= 1000; i++) push.changed(7, i);
  await flush();
  assert.deepEqual(sent, [{ id: 7, changed: [1], at: 0 }]);
  await clock.advance(249);
  assert.equal(sent.length, 1);
  await clock.advance(250);
  assert.equal(sent.length, 2);
  // 999 items changed since the first send: more than CHANGED_MAX, so "many".
  assert.deepEqual(sent[1], { id: 7, changed: null, at: 250 });
  await clock.advance(10_000);
  assert.equal(sent.length, 2, 'nothing new: nothing sent');
  assert.equal(clock.pending(), false);
});

test('lists the items that changed since the previous send, once each, in index order', async () => {
  const clock = manualClock();
  const { push, sent } = pushWith(clock);
  push.changed(1, 5);
  await flush();
  for (const i of [9, 3, 9, 4]) push.changed(1, i);
  await clock.advance(250);
  assert.deepEqual(
    sent.map((s) => s.changed),
    [[5], [3, 4, 9]],
  );
  assert.ok(CHANGED_MAX >= 3);
});

test('a change of the whole batch is sent as "many"', async () => {
  const clock = manualClock();
  const { push, sent } = pushWith(clock);
  push.changed(1, null);
  await flush();
  assert.deepEqual(sent[0]?.changed, null);
});

test('batches are paced apart: one busy batch does not hold back another', async () => {
  const clock = manualClock();
  const { push, sent } = pushWith(clock);
  push.changed(1, 1);
  push.changed(1, 2);
  push.changed(2, 1);
  await flush();
  assert.deepEqual(
    sent.map((s) => [s.id, s.changed]),
    [
      [1, [1]],
      [2, [1]],
    ],
  );
  await clock.advance(250);
  assert.deepEqual(sent[2], { id: 1, changed: [2], at: 250 });
});

test('changes that come while a send is under way go out in the next slot, not at once', async () => {
  const clock = manualClock();
  let release: () => void = () => {};
  const sent: (number[] | null)[] = [];
  const push = new BatchPush({
    send: (_id, changed) => {
      sent.push(changed);
      return new Promise<void>((r) => {
        release = r;
      });
    },
    now: clock.now,
    schedule: clock.schedule,
    intervalMs: 250,
  });
  push.changed(1, 1);
  push.changed(1, 2);
  await clock.advance(400);
  assert.deepEqual(sent, [[1]], 'the second waits for the first send to end');
  release();
  await flush();
  assert.deepEqual(sent, [[1], [2]]);
});

test('a failed send is logged and the next change is sent again', async () => {
  const clock = manualClock();
  const warned: string[] = [];
  const sent: (number[] | null)[] = [];
  let fail = true;
  const push = new BatchPush({
    send: async (_id, changed) => {
      if (fail) throw new Error('store unavailable');
      sent.push(changed);
    },
    now: clock.now,
    schedule: clock.schedule,
    intervalMs: 250,
    log: { warn: (_o: unknown, msg: string) => warned.push(msg) } as never,
  });
  push.changed(1, 1);
  await flush();
  assert.match(warned[0] ?? '', /store unavailable/);
  fail = false;
  push.changed(1, 2);
  await clock.advance(250);
  assert.deepEqual(sent, [[2]]);
});

test('driven by any changes, sends are never closer than the interval and every change gets out', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ gap: fc.integer({ min: 0, max: 400 }), index: fc.integer({ min: 1, max: 50 }) }), {
        minLength: 1,
        maxLength: 80,
      }),
      async (changes) => {
        const clock = manualClock();
        const { push, sent } = pushWith(clock);
        let t = 0;
        for (const c of changes) {
          t += c.gap;
          await clock.advance(t);
          push.changed(3, c.index);
          await flush();
        }
        await clock.advance(t + 1_000);
        for (let i = 1; i < sent.length; i++) assert.ok(sent[i]!.at - sent[i - 1]!.at >= 250);
        const got = new Set(sent.flatMap((s) => s.changed ?? []));
        assert.deepEqual(
          [...got].sort((a, b) => a - b),
          [...new Set(changes.map((c) => c.index))].sort((a, b) => a - b),
        );
        assert.equal(clock.pending(), false);
      },
    ),
    { numRuns: 100 },
  );
});
