/**
 * When to push a job's progress to dashboards: at most once per interval and
 * only when its revision changed. Pure: the caller keeps the state, passes the
 * time in and arms a timer for `wait`.
 */

/** Seed 001: progress state is pushed at most every 150 ms per job. */
export const PUSH_INTERVAL_MS = 150;

export interface PushState {
  /** when the last push went out, ms; null before the first */
  lastPushAt: number | null;
  /** the revision that push carried */
  lastRevision: number | null;
}

export type PushDecision =
  /** send now, then record `pushed(state, revision, now)` */
  | { kind: 'push' }
  /** nothing new since the last push */
  | { kind: 'skip' }
  /** something new, but too soon: decide again after `delayMs` */
  | { kind: 'wait'; delayMs: number };

export const NEVER_PUSHED: PushState = { lastPushAt: null, lastRevision: null };

export function decidePush(
  state: PushState,
  revision: number,
  now: number,
  intervalMs = PUSH_INTERVAL_MS,
): PushDecision {
  if (state.lastRevision === revision) return { kind: 'skip' };
  if (state.lastPushAt === null) return { kind: 'push' };
  const since = now - state.lastPushAt;
  // A clock that went backwards counts as "just pushed": waiting a whole interval keeps the promise.
  if (since < 0) return { kind: 'wait', delayMs: intervalMs };
  return since >= intervalMs ? { kind: 'push' } : { kind: 'wait', delayMs: intervalMs - since };
}

export function pushed(revision: number, now: number): PushState {
  return { lastPushAt: now, lastRevision: revision };
}
