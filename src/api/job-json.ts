/**
 * A job as the /api/pqueue API shows it. Times are milliseconds since the
 * epoch, as in ComfyUI's own API. Sensitive extra_data never leaves the server.
 */

import { displayName, type Job, workflowIdOf } from '../domain/job.js';
import { errorNodes } from '../domain/job-error-nodes.js';

export interface JobJsonOptions {
  /** include prompt, workflow and extra_data (single-job answers) */
  full?: boolean;
  progress?: unknown;
  /** why a pending job is held back from dispatch (no worker can run it now), if it is */
  waiting?: { reason: string; since: number; failAt: number | null } | null;
}

export function jobJson(job: Job, opts: JobJsonOptions = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {
    prompt_id: job.id,
    name: job.name,
    display_name: displayName(job),
    status: job.status,
    priority: job.priority,
    position: job.position,
    created_at: job.createdAt,
    started_at: job.startedAt,
    ended_at: job.endedAt,
    worker: job.worker,
    attempts: job.attempts,
    error: job.error,
    outputs: job.outputs,
    flagged: job.flagged,
    client_id: job.clientId,
    workflow_id: workflowIdOf(job),
    requeued_from: job.requeuedFrom,
    requires: job.requires,
    retries: job.retries,
  };
  if (opts.progress !== undefined) out.progress = opts.progress;
  if (opts.waiting !== undefined)
    out.waiting = opts.waiting
      ? { reason: opts.waiting.reason, since: opts.waiting.since, fails_at: opts.waiting.failAt }
      : null;
  if (opts.full) {
    out.prompt = job.prompt;
    out.workflow = job.workflow;
    out.extra_data = job.extraData;
    out.partial_execution_targets = job.targets;
    // The nodes a failure names, read from ComfyUI's answer kept in `error.details`.
    out.error_nodes = errorNodes(job.error, job.prompt);
  }
  return out;
}
