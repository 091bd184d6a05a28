/**
 * The allowed status changes of a job. Every change of a job's status goes
 * through `transition`, which answers the new status or a typed refusal.
 */
import type { JobStatus } from './job.js';

export type JobEvent =
  /** a worker claimed the job */
  | 'dispatch'
  /** the worker reported success */
  | 'complete'
  /** the worker reported an error, or refused the prompt */
  | 'fail'
  /** a person cancelled it (pending or running) or the worker reported an interrupt */
  | 'cancel'
  /** the job goes back to pending: the worker lost it before running it */
  | 'release';

export type TransitionResult =
  | { ok: true; status: JobStatus }
  | { ok: false; code: 'INVALID_TRANSITION'; from: JobStatus; event: JobEvent };

const TABLE: Record<JobStatus, Partial<Record<JobEvent, JobStatus>>> = {
  pending: { dispatch: 'in_progress', cancel: 'cancelled', fail: 'failed' },
  in_progress: { complete: 'completed', fail: 'failed', cancel: 'cancelled', release: 'pending' },
  completed: {},
  failed: {},
  cancelled: {},
};

export function transition(from: JobStatus, event: JobEvent): TransitionResult {
  const to = TABLE[from][event];
  return to ? { ok: true, status: to } : { ok: false, code: 'INVALID_TRANSITION', from, event };
}
