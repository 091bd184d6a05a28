/**
 * Batch counts from grouped rows, as both stores read them: one row per
 * (status, flagged, tracker mark, outputs stored) with how many items have it.
 */
import type { FinishedBucket } from '../domain/batch-throughput.js';
import type { JobStatus } from '../domain/job.js';
import { trackerStatus } from '../domain/tracker-status.js';
import type { BatchCounts } from './batch-types.js';

export interface CountGroup {
  status: string;
  /** SQLite answers 0/1, PostgreSQL a boolean */
  flagged: boolean | number;
  tracker: string | null;
  stored: boolean | number;
  n: number;
}

export function tallyBatchCounts(rows: readonly CountGroup[]): BatchCounts {
  const out: BatchCounts = {
    pending: 0,
    in_progress: 0,
    completed: 0,
    failed: 0,
    cancelled: 0,
    flagged: 0,
    done: 0,
    uncollected: 0,
    tracker: { inactive: 0, working: 0, complete: 0, done: 0, error: 0, flagged: 0 },
  };
  for (const r of rows) {
    const status = r.status as JobStatus;
    out[status] += r.n;
    const t = trackerStatus({ status, flagged: Boolean(r.flagged), done: r.tracker === 'done' }, null);
    out.tracker[t] += r.n;
    if (t === 'flagged') out.flagged += r.n;
    if (t === 'done') out.done += r.n;
    if (t === 'complete' && !r.stored) out.uncollected += r.n;
  }
  return out;
}

/** One row per (bucket start, status) with how many items finished in it. */
export interface FinishedGroup {
  start: number;
  status: string;
  n: number;
}

/** Finished-item rows merged into one bucket per start, in the order the rows came. */
export function tallyFinishedBuckets(rows: readonly FinishedGroup[]): FinishedBucket[] {
  const byStart = new Map<number, FinishedBucket>();
  for (const r of rows) {
    const b = byStart.get(r.start) ?? { start: r.start, completed: 0, failed: 0 };
    if (r.status === 'completed') b.completed += r.n;
    else b.failed += r.n;
    byStart.set(r.start, b);
  }
  return [...byStart.values()];
}
