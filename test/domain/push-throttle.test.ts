import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decidePush, NEVER_PUSHED, type PushState, pushed } from '../../src/domain/push-throttle.js';

test('the first change is pushed at once', () => {
  assert.deepEqual(decidePush(NEVER_PUSHED, 0, 1000), { kind: 'push' });
});

test('an unchanged revision is never pushed', () => {
  assert.deepEqual(decidePush(pushed(3, 1000), 3, 5000), { kind: 'skip' });
});

test('a change within the interval waits for the rest of it', () => {
  assert.deepEqual(decidePush(pushed(3, 1000), 4, 1040, 150), { kind: 'wait', delayMs: 110 });
  assert.deepEqual(decidePush(pushed(3, 1000), 4, 1150, 150), { kind: 'push' });
});

test('a clock that went backwards waits a whole interval', () => {
  assert.deepEqual(decidePush(pushed(3, 1000), 4, 900, 150), { kind: 'wait', delayMs: 150 });
});

test('driven by its own decisions, pushes are never closer than the interval and the last revision gets out', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 60 }), (gaps) => {
      // Revisions change at the given gaps; the caller re-decides at every change and when a wait ends.
      const changes: number[] = [];
      let t = 0;
      for (const g of gaps) {
        t += g;
        changes.push(t);
      }
      let state: PushState = NEVER_PUSHED;
      const pushes: number[] = [];
      let wakeAt: number | null = null;
      let rev = -1;
      const events = changes.map((at, i) => ({ at, rev: i }));
      let i = 0;
      while (i < events.length || wakeAt !== null) {
        const next = events[i];
        let now: number;
        if (next && (wakeAt === null || next.at < wakeAt)) {
          now = next.at;
          rev = next.rev;
          i++;
          if (wakeAt !== null) continue; // a timer is armed: it will decide
        } else {
          now = wakeAt!;
          wakeAt = null;
        }
        const d = decidePush(state, rev, now, 150);
        if (d.kind === 'push') {
          state = pushed(rev, now);
          pushes.push(now);
        } else if (d.kind === 'wait') {
          wakeAt = now + d.delayMs;
        }
      }
      for (let k = 1; k < pushes.length; k++) assert.ok(pushes[k]! - pushes[k - 1]! >= 150);
      assert.equal(state.lastRevision, gaps.length - 1);
    }),
  );
});
