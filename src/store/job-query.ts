/**
 * The listing query of the JobStore: filters, one sort, offset/limit and a
 * keyset position, answered from indexes so that a page costs the same with
 * a million jobs as with ten. Used by ComfyUI's /api/jobs and /history and by
 * comfy-queue's own history (/api/pqueue/history).
 */
import type { JobError, JobOutputs, JobStatus } from '../domain/job.js';

/**
 * `created_at`: creation time; `execution_duration`: ended_at − started_at
 * (0 unless both are set); `ended_at`: completion order, finished jobs only.
 * Ties are broken by id, in the same direction, so (sort value, id) is a keyset.
 */
export const JOB_SORTS = ['created_at', 'execution_duration', 'ended_at'] as const;
export type JobSort = (typeof JOB_SORTS)[number];

/** The place after which a page starts: the sort value and id of the last row seen. */
export interface KeysetPosition {
  value: number;
  id: string;
}

export interface JobQuery {
  /** statuses to include; absent or empty = all */
  statuses?: readonly JobStatus[];
  /** exact match on the UI workflow's id (extra_data.extra_pnginfo.workflow.id) */
  workflowId?: string | null;
  /** created_at ≥ since (ms since the epoch) */
  since?: number | null;
  /** created_at ≤ until (ms since the epoch) */
  until?: number | null;
  /**
   * words that must all appear (each as a word prefix, case and accents
   * ignored) in the job's name, prompt string inputs, node types or seeds
   * (src/domain/search-text.ts); text without a word filters nothing
   */
  text?: string | null;
  /** the worker that ran (or runs) the job */
  worker?: string | null;
  /** flagged for a re-render (true) or not (false); absent = both */
  flagged?: boolean | null;
  /** false: skip counting the matching rows (`total` is null); a count costs O(matches) under text, date, worker or flagged filters */
  countTotal?: boolean;
  sort?: JobSort;
  order?: 'asc' | 'desc';
  /** page size; null = every row */
  limit?: number | null;
  /** rows skipped; ignored when `after` is given */
  offset?: number;
  /** keyset: the rows strictly after this position in the requested order */
  after?: KeysetPosition | null;
}

/** A job as listings show it: everything but the graph, the workflow and extra_data, which pages must not carry. */
export interface JobListItem {
  id: string;
  name: string | null;
  status: JobStatus;
  priority: number;
  /** the fair-share tag: at equal priority, lower runs sooner */
  fair: number;
  position: number;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
  worker: string | null;
  attempts: number;
  error: JobError | null;
  outputs: JobOutputs | null;
  clientId: string | null;
  flagged: boolean;
  workflowId: string | null;
  /** ended_at − started_at, 0 unless both are set */
  durationMs: number;
}

export interface JobPage {
  jobs: JobListItem[];
  /** rows matching the filters, before paging; null when the query said `countTotal: false` */
  total: number | null;
  hasMore: boolean;
  /** the keyset position of the last row when more rows follow, else null */
  nextCursor: KeysetPosition | null;
}

/** The sort value of a listed job under `sort`. */
export function sortValue(job: JobListItem, sort: JobSort): number {
  if (sort === 'execution_duration') return job.durationMs;
  if (sort === 'ended_at') return job.endedAt ?? 0;
  return job.createdAt;
}
