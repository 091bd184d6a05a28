/**
 * The Batches screen's data: the API's batch and item shapes, the calls it
 * makes, and the pure pieces (the stacked bar, which grid rows to load).
 */
import type { QueueClient } from '../api/client.js';

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

export function listBatches(c: QueueClient): Promise<{ batches: BatchJson[] }> {
  return c.request('GET', '/api/pqueue/batches');
}

export function getBatch(c: QueueClient, id: number): Promise<BatchJson> {
  return c.request('GET', `/api/pqueue/batches/${id}`);
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
