/**
 * What the JobStore keeps of a batch (src/domain/batch-spec.ts): its template
 * and spec once, its settings, and one `jobs` row per item.
 */
import type { BatchSpec } from '../domain/batch-spec.js';
import type { ItemIds } from '../domain/ids.js';
import type { Job, PromptGraph } from '../domain/job.js';
import type { TrackerStatus } from '../domain/tracker-status.js';

export interface NewBatch {
  name: string;
  /** the API graph its items derive from */
  template: PromptGraph;
  workflow: unknown | null;
  /** ComfyUI extra_data of every item (the workflow travels in extra_pnginfo) */
  extraData: Record<string, unknown>;
  spec: BatchSpec;
  priority: number;
  /** its share of the farm against other batches and people's jobs at its priority (default 1) */
  weight: number;
  requires: string[];
  clientId: string | null;
  createdAt: number;
  /** the items' prompt_ids (domain/ids.ts) */
  ids: ItemIds;
}

export interface BatchRecord {
  id: number;
  name: string;
  total: number;
  priority: number;
  weight: number;
  paused: boolean;
  requires: string[];
  clientId: string | null;
  createdAt: number;
  spec: BatchSpec;
}

/** The current run of each item, by comfy-queue status, plus the tracker's marks. */
export interface BatchCounts {
  pending: number;
  in_progress: number;
  completed: number;
  failed: number;
  cancelled: number;
  /** finished and flagged for a re-render */
  flagged: number;
  /** completed and marked done by a client */
  done: number;
  /** completed, neither flagged nor done, whose outputs are not (yet) stored by the output collector */
  uncollected: number;
  /** the same items by the tracker's statuses (collection off: a completed job is complete) */
  tracker: Record<TrackerStatus, number>;
}

/**
 * The counts as the tracker states them while outputs are collected: a completed item is
 * `working` until its files are stored (trackerStatus with `collected`).
 */
export function countsWithCollection(counts: BatchCounts, collecting: boolean): BatchCounts {
  if (!collecting || counts.uncollected === 0) return counts;
  const t = counts.tracker;
  return {
    ...counts,
    tracker: { ...t, complete: t.complete - counts.uncollected, working: t.working + counts.uncollected },
  };
}

export interface BatchPatch {
  name?: string;
  priority?: number;
  weight?: number;
}

/** Which items a re-run takes: failed (and cancelled) ones, flagged ones, or the listed jobs. */
export type RerunSelection =
  | { kind: 'failed' }
  | { kind: 'flagged' }
  | { kind: 'jobs'; ids: readonly string[] };

/** A page of batch items (the tracker's /jobs), in (batch, index) order. */
export interface BatchItemQuery {
  batchId?: number | null;
  /** tracker statuses to include; empty = all */
  statuses?: readonly TrackerStatus[];
  /**
   * whether outputs are collected: a completed item is then `working` until they are stored (or an
   * external worker reported it with its file), as trackerStatus and countsWithCollection say
   */
  collecting?: boolean;
  fromIndex?: number | null;
  toIndex?: number | null;
  /** only these indexes (a text search resolved against the batch's traits) */
  indexes?: readonly number[] | null;
  /** keyset: strictly after this (batch, index) */
  after?: { batchId: number; index: number } | null;
  /** rows skipped (a virtualised grid jumping to a place); O(offset), so keyset where it can */
  offset?: number;
  limit: number;
}

export interface BatchItemPage {
  jobs: Job[];
  /** the position after the last job, when more may follow */
  next: { batchId: number; index: number } | null;
}

export interface MinuteCount {
  /** start of the minute, ms since epoch */
  minute: number;
  completed: number;
  failed: number;
}
