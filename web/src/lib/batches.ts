/**
 * The Batches screen's data: the API's batch and item shapes, the calls it
 * makes, and the pure pieces (the stacked bar, which grid rows to load, live
 * figures applied to a batch and to its throughput chart).
 */
import type { QueueClient } from '../api/client.js';
import type { BatchProgressMessage } from '../api/types.js';

export const TRACKER_STATUSES = ['inactive', 'working', 'complete', 'done', 'error', 'flagged'] as const;
export type TrackerStatus = (typeof TRACKER_STATUSES)[number];

export interface BatchJson {
  id: number;
  name: string;
  total: number;
  state: 'running' | 'paused' | 'finished';
  paused: boolean;
  priority: number;
  weight: number;
  counts: { pending: number; in_progress: number; completed: number; failed: number; cancelled: number };
  tracker: Record<TrackerStatus, number>;
  per_minute: number;
  eta_ms: number | null;
}

export interface BatchItem {
  job_id: string;
  batch: string | null;
  batch_id: number | null;
  index: number;
  status: TrackerStatus;
  queue_status: string;
  seed: number | null;
  traits: Record<string, unknown> | null;
  sweep: Record<string, unknown> | null;
  worker: string | null;
  flagged: boolean;
  error: { type: string; message: string } | null;
}

export const STATUS_COLOURS: Record<TrackerStatus, string> = {
  inactive: '#5b6170',
  working: '#3b82f6',
  complete: '#22a06b',
  done: '#0f766e',
  error: '#dc2626',
  flagged: '#d97706',
};

/** The stacked bar: each status's share of the batch, in order, leaving out empty ones. */
export function segments(b: BatchJson): { status: TrackerStatus; n: number; percent: number }[] {
  const total = Math.max(1, b.total);
  return TRACKER_STATUSES.map((status) => ({ status, n: b.tracker[status] ?? 0, percent: ((b.tracker[status] ?? 0) / total) * 100 })).filter(
    (s) => s.n > 0,
  );
}

/** How many items the grid shows: the batch, or the items of the chosen statuses. */
export function gridTotal(b: BatchJson, statuses: readonly TrackerStatus[]): number {
  if (statuses.length === 0) return b.total;
  return statuses.reduce((n, s) => n + (b.tracker[s] ?? 0), 0);
}

/** The pages (of `pageSize` items) that hold rows first..last of a grid `columns` wide. */
export function pagesFor(firstRow: number, lastRow: number, columns: number, pageSize: number, total: number): number[] {
  const from = Math.max(0, firstRow * columns);
  const to = Math.min(total - 1, (lastRow + 1) * columns - 1);
  if (to < from) return [];
  const out: number[] = [];
  for (let p = Math.floor(from / pageSize); p <= Math.floor(to / pageSize); p++) out.push(p);
  return out;
}

/** Finished items per bucket of time (GET /api/pqueue/batches/{id}/throughput). */
export interface BatchThroughput {
  batch_id: number;
  span: 'life' | 'hour';
  from: number;
  bucket_ms: number;
  buckets: { start: number; completed: number; failed: number }[];
}

/** The most buckets a chart keeps while it grows live (the server's window holds at most as many). */
const CHART_MAX = 120;

/** A batch with the figures of a `batch.progress` message. */
export function withProgress(b: BatchJson, m: BatchProgressMessage): BatchJson {
  return {
    ...b,
    state: m.state,
    paused: m.paused,
    total: m.total,
    counts: m.counts,
    tracker: m.tracker,
    per_minute: m.per_minute,
    eta_ms: m.eta_ms,
  };
}

/**
 * The chart with items that finished at `at` (server time) added to the bucket that holds it;
 * buckets up to it are added when time moved past the last one, the oldest dropped beyond CHART_MAX.
 */
export function addFinished(t: BatchThroughput, at: number, completed: number, failed: number): BatchThroughput {
  if (completed <= 0 && failed <= 0) return t;
  const start = Math.floor(at / t.bucket_ms) * t.bucket_ms;
  const buckets = t.buckets.map((b) => ({ ...b }));
  let last = buckets[buckets.length - 1];
  if (last && start < last.start) return t; // older than the chart's last bucket: the next read has it
  while (!last || last.start < start) {
    last = { start: last ? last.start + t.bucket_ms : start, completed: 0, failed: 0 };
    buckets.push(last);
  }
  last.completed += Math.max(0, completed);
  last.failed += Math.max(0, failed);
  const keep = buckets.slice(-CHART_MAX);
  return { ...t, from: keep[0]!.start, buckets: keep };
}

/**
 * The order of the grid's reads. Their answers can come back out of order
 * (the browser reads over several connections), and an older answer must not
 * replace a tile that a newer one set: a finished item would show an earlier
 * state until it changed again, which a finished item may never do.
 */
export class ReadOrder {
  private last = 0;
  private readonly shownFrom = new Map<number, number>();

  /** The number of a read about to be sent. */
  start(): number {
    return ++this.last;
  }

  /** Whether read `seq`'s answer for item `index` is as new as the one shown; if it is, it is now the one shown. */
  take(index: number, seq: number): boolean {
    if ((this.shownFrom.get(index) ?? 0) > seq) return false;
    this.shownFrom.set(index, seq);
    return true;
  }
}

/** The indexes of `changed` that are shown in grid positions first..last of an unfiltered grid. */
export function shownChanges(changed: readonly number[], first: number, last: number): number[] {
  return changed.filter((i) => i - 1 >= first && i - 1 <= last);
}

export function listBatches(c: QueueClient): Promise<{ batches: BatchJson[] }> {
  return c.request('GET', '/api/pqueue/batches');
}

export function getBatch(c: QueueClient, id: number): Promise<BatchJson> {
  return c.request('GET', `/api/pqueue/batches/${id}`);
}

export function getThroughput(c: QueueClient, id: number, span: 'life' | 'hour'): Promise<BatchThroughput> {
  return c.request('GET', `/api/pqueue/batches/${id}/throughput?span=${span}`);
}

/** Items `from`..`to` (indexes) of a batch, whatever their status. */
export function itemRange(c: QueueClient, batch: number, from: number, to: number): Promise<{ jobs: BatchItem[] }> {
  const p = new URLSearchParams({ batch: String(batch), from: String(from), to: String(to), limit: String(to - from + 1) });
  return c.request('GET', `/api/pqueue/tracker/jobs?${p.toString()}`);
}

export function batchAction(c: QueueClient, id: number, action: string): Promise<unknown> {
  return c.request('POST', `/api/pqueue/batches/${id}/${action}`);
}

export function itemPage(
  c: QueueClient,
  q: { batch: number; statuses: readonly TrackerStatus[]; offset: number; limit: number; text?: string },
): Promise<{ jobs: BatchItem[] }> {
  const p = new URLSearchParams({ batch: String(q.batch), offset: String(q.offset), limit: String(q.limit) });
  if (q.statuses.length) p.set('status', q.statuses.join(','));
  if (q.text?.trim()) p.set('q', q.text.trim());
  return c.request('GET', `/api/pqueue/tracker/jobs?${p.toString()}`);
}

export function flagItem(c: QueueClient, jobId: string, flagged: boolean): Promise<BatchItem> {
  return c.request('POST', `/api/pqueue/tracker/job/${jobId}/flag`, { flagged });
}

export function resetItem(c: QueueClient, jobId: string): Promise<BatchItem> {
  return c.request('POST', `/api/pqueue/tracker/job/${jobId}/reset`, {});
}
