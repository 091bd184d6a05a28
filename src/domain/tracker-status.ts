/**
 * The render tracker's statuses, read off a job: `inactive` (pending),
 * `working` (in progress, or finished while its outputs are still being
 * collected), `complete` (finished, its outputs stored), `done` (a client
 * said it has the outputs), `error` (failed or cancelled) and `flagged`
 * (marked by a person for a re-render). Pure.
 */
import type { Job } from './job.js';

export const TRACKER_STATUSES = ['inactive', 'working', 'complete', 'done', 'error', 'flagged'] as const;
export type TrackerStatus = (typeof TRACKER_STATUSES)[number];

export function isTrackerStatus(v: unknown): v is TrackerStatus {
  return typeof v === 'string' && (TRACKER_STATUSES as readonly string[]).includes(v);
}

/** What the tracker status depends on. `done` is the client's mark (null until set). */
export type TrackerFacts = Pick<Job, 'status' | 'flagged'> & { done: boolean };

/**
 * `collected`: whether the job's outputs are stored where the server collects
 * them; null when collection is off (a finished job is then complete at once).
 */
export function trackerStatus(job: TrackerFacts, collected: boolean | null): TrackerStatus {
  if (job.flagged && job.status !== 'pending' && job.status !== 'in_progress') return 'flagged';
  switch (job.status) {
    case 'pending':
      return 'inactive';
    case 'in_progress':
      return 'working';
    case 'failed':
    case 'cancelled':
      return 'error';
    case 'completed':
      if (job.done) return 'done';
      return collected === false ? 'working' : 'complete';
  }
}
