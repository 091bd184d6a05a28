/** A job card of GET /api/admin/queue (seed 001; docs/admin.md lists its fields). */

import { displayName, type Job, workflowIdOf } from '../domain/job.js';
import { excerpt, outputFolder, promptText, seedOf, thumbnail } from '../domain/job-card.js';
import type { ProgressState } from '../domain/progress.js';
import type { ProgressSnapshot } from '../domain/progress-snapshot.js';

export interface CardExtras {
  progress?: ProgressSnapshot | null;
  state?: ProgressState | null;
  estimate?: unknown;
  /** why a pending job is not running yet (engine.waitingOf), or null */
  waiting?: { reason: string; since: number; failAt: number | null } | null;
}

export function jobCard(job: Job, extras: CardExtras = {}): Record<string, unknown> {
  return {
    prompt_id: job.id,
    status: job.status === 'in_progress' ? 'running' : job.status === 'pending' ? 'queued' : job.status,
    workflow_name: displayName(job),
    queued_at: job.createdAt,
    started_at: job.startedAt,
    prompt_excerpt: excerpt(promptText(job.prompt)),
    seed: seedOf(job.prompt),
    workflow_id: workflowIdOf(job),
    output_folder: outputFolder(job.prompt),
    thumbnail: thumbnail(job, extras.state?.outputs),
    worker: job.worker,
    priority: job.priority,
    attempts: job.attempts,
    flagged: job.flagged,
    progress: extras.progress ?? null,
    estimate: extras.estimate ?? null,
    requires: job.requires,
    retries: job.retries,
    waiting: extras.waiting
      ? { reason: extras.waiting.reason, since: extras.waiting.since, fails_at: extras.waiting.failAt }
      : null,
  };
}
