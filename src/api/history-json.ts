/**
 * A finished job as GET /api/pqueue/history shows it: job-json.ts's fields
 * that a listing carries (no prompt or workflow), plus seed 003's
 * `outputs_count` and `preview_output`, the run time, and the URLs of its
 * thumbnail and workflow file.
 */
import { outputsSummary } from '../domain/comfy-outputs.js';
import type { JobListItem } from '../store/job-query.js';

export function historyJobJson(job: JobListItem, hasThumbnail: boolean): Record<string, unknown> {
  const { count, preview } = outputsSummary(job.outputs);
  return {
    prompt_id: job.id,
    name: job.name,
    display_name: job.name ?? `job ${job.id.slice(0, 8)}`,
    status: job.status,
    priority: job.priority,
    created_at: job.createdAt,
    started_at: job.startedAt,
    ended_at: job.endedAt,
    execution_duration: job.startedAt !== null && job.endedAt !== null ? job.durationMs : null,
    worker: job.worker,
    attempts: job.attempts,
    error: job.error,
    outputs: job.outputs,
    outputs_count: count,
    preview_output: preview,
    flagged: job.flagged,
    client_id: job.clientId,
    workflow_id: job.workflowId,
    has_thumbnail: hasThumbnail,
    thumb_url: `/api/pqueue/history/thumb/${job.id}`,
    workflow_url: `/api/pqueue/jobs/${job.id}/workflow`,
  };
}
