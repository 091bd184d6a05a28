/**
 * The job: one ComfyUI prompt that comfy-queue keeps, schedules and remembers.
 * Pure data and pure functions; nothing here reads the clock or does IO.
 */

/** The five statuses of ComfyUI's /api/jobs, used as comfy-queue's own. */
export const JOB_STATUSES = ['pending', 'in_progress', 'completed', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const FINISHED_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled'];

export function isJobStatus(v: unknown): v is JobStatus {
  return typeof v === 'string' && (JOB_STATUSES as readonly string[]).includes(v);
}

export function isFinished(status: JobStatus): boolean {
  return FINISHED_STATUSES.includes(status);
}

/** API-format prompt graph: node id → node. */
export type PromptGraph = Record<string, PromptNode>;
export interface PromptNode {
  class_type: string;
  inputs: Record<string, unknown>;
  _meta?: { title?: string };
}

/** Why a job failed, in ComfyUI's execution_error vocabulary where it came from ComfyUI. */
export interface JobError {
  /** stable code: `execution_error`, `prompt_rejected`, `worker_lost`, `interrupted`, `invalid_job`, ... */
  type: string;
  message: string;
  node_id?: string | null;
  node_type?: string | null;
  exception_type?: string;
  traceback?: string[];
  /** the raw answer from ComfyUI (execution_error payload or /prompt 400 body) */
  details?: unknown;
}

/** ComfyUI UI outputs by node id (history `outputs`). */
export type JobOutputs = Record<string, Record<string, unknown>>;

export interface Job {
  /** the ComfyUI prompt_id: a lowercase hyphenated UUID, also sent to the worker */
  id: string;
  /** a person's label; null until renamed (then derived from the workflow for display) */
  name: string | null;
  /**
   * API-format graph as submitted. One graph object may be shared by every
   * read of the job (the SQLite reader's cache): it is never changed in place.
   */
  prompt: PromptGraph;
  /** UI workflow (litegraph JSON) when the client sent one (extra_data.extra_pnginfo.workflow) */
  workflow: unknown | null;
  /** ComfyUI extra_data as submitted, minus sensitive keys (see `sensitive`) */
  extraData: Record<string, unknown>;
  /** sensitive extra_data keys (auth tokens), forwarded to the worker, never shown */
  sensitive: Record<string, unknown> | null;
  /** the websocket sid of the submitting ComfyUI client, if any */
  clientId: string | null;
  /** higher runs sooner */
  priority: number;
  /** order among jobs of equal priority; lower runs sooner */
  position: number;
  status: JobStatus;
  /** ms since epoch */
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
  /** id of the worker that holds or held the job */
  worker: string | null;
  /** how many times the job was handed to a worker */
  attempts: number;
  error: JobError | null;
  outputs: JobOutputs | null;
  /** ms since epoch until which the worker's claim holds; null when not dispatched */
  leaseUntil: number | null;
  /** output node ids to run (ComfyUI partial_execution_targets), null for all */
  targets: string[] | null;
  /** flagged by a person for a re-render */
  flagged: boolean;
  /** the job this one was requeued from */
  requeuedFrom: string | null;
  /** worker tags a worker must have to run it */
  requires: string[];
  /** times it went back to pending after a worker failure (out of memory, a crash); within --max-retries */
  retries: number;
  /** whose single job it is for fair share: the token's name where tokens are named, else the client id */
  owner?: string | null;
  /** its fair-share start tag: at equal priority, lower runs sooner (store/sqlite/migrations/0007) */
  fair?: number;
  /** the batch item this job runs (`current`: false for an earlier run kept as history) */
  batch?: JobBatchRef | null;
  /** a client said it has the job's outputs (the tracker's `done`) */
  done?: boolean;
}

export interface JobBatchRef {
  id: number;
  /** 1-based */
  index: number;
  name: string | null;
  current: boolean;
}

/** What a client supplies to create a job; the store fills in the rest. */
export interface NewJob {
  id: string;
  name: string | null;
  prompt: PromptGraph;
  workflow: unknown | null;
  extraData: Record<string, unknown>;
  sensitive: Record<string, unknown> | null;
  clientId: string | null;
  priority: number;
  /** put the job ahead of every pending job of its priority */
  front: boolean;
  /** an explicit place among its priority (ComfyUI's `number`); absent or null lets the store choose */
  position?: number | null;
  createdAt: number;
  targets: string[] | null;
  requeuedFrom: string | null;
  /** worker tags a worker must have to run it (none by default) */
  requires?: string[];
  /** whose job it is for fair share (default: the client id) */
  owner?: string | null;
}

/** Queue order: priority desc, fair-share tag asc, position asc, created_at asc, id asc. */
export function compareQueueOrder(a: Job, b: Job): number {
  return (
    b.priority - a.priority ||
    (a.fair ?? 0) - (b.fair ?? 0) ||
    a.position - b.position ||
    a.createdAt - b.createdAt ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

/** The display name: the given name, else the workflow's title-ish fields, else a short id. */
export function displayName(job: Pick<Job, 'name' | 'workflow' | 'id' | 'extraData'>): string {
  if (job.name) return job.name;
  const wf = job.workflow as { extra?: { name?: unknown }; name?: unknown } | null;
  const fromWf = wf && typeof wf === 'object' ? (wf.name ?? wf.extra?.name) : undefined;
  if (typeof fromWf === 'string' && fromWf.trim()) return fromWf.trim();
  return `job ${job.id.slice(0, 8)}`;
}

/** The workflow id ComfyUI's /api/jobs reports: extra_data.extra_pnginfo.workflow.id */
export function workflowIdOf(job: Pick<Job, 'workflow'>): string | null {
  const wf = job.workflow as { id?: unknown } | null;
  return wf && typeof wf === 'object' && typeof wf.id === 'string' ? wf.id : null;
}
