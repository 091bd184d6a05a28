/** When a handed job's progress is not to be believed any more. Pure. */

/** Progress with no message for this long is marked stale instead of counting down. */
export const STALE_AFTER_MS = 30_000;

export function isStale(lastMessageAt: number | null | undefined, now: number): boolean {
  return lastMessageAt != null && now - lastMessageAt >= STALE_AFTER_MS;
}

/** "next on w1", or why it cannot start there: its worker is away. */
export function waitingLine(worker: string | null, workerState: string | null | undefined, since: string | null): string {
  if (!worker) return 'handed to a worker';
  if (workerState === 'offline' || workerState === 'connecting')
    return since ? `waiting for ${worker} to come back since ${since}` : `waiting for ${worker} to come back`;
  return `next on ${worker}`;
}
