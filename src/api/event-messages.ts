/**
 * The event websocket's text messages (docs/events.md), built from bus
 * events. Pure: the caller passes the time.
 */
import type { Job } from '../domain/job.js';
import type { QueueEvent } from '../engine/events.js';
import { jobJson } from './job-json.js';

export type EventMessage = { type: string; at: number } & Record<string, unknown>;

/** `job.finished` is told apart by outcome, as the dashboard shows them. */
function finishedType(job: Job): string {
  return job.status === 'failed'
    ? 'job.failed'
    : job.status === 'cancelled'
      ? 'job.cancelled'
      : 'job.finished';
}

/** The message for a bus event; null for events that are not relayed (raw ComfyUI traffic). */
export function messageOf(e: QueueEvent, at: number): EventMessage | null {
  switch (e.type) {
    case 'job.queued':
    case 'job.started':
    case 'job.updated':
      return { type: e.type, at, job: jobJson(e.job) };
    case 'job.finished':
      return { type: finishedType(e.job), at, job: jobJson(e.job) };
    case 'job.released':
      return { type: 'job.released', at, job: jobJson(e.job), reason: e.reason };
    case 'job.waiting':
      return {
        type: 'job.waiting',
        at,
        job: jobJson(e.job, { waiting: { reason: e.reason, since: e.since, failAt: null } }),
        reason: e.reason,
      };
    case 'job.deleted':
    case 'queue.reordered':
      return { type: e.type, at, ids: e.ids };
    case 'queue.paused':
    case 'queue.resumed':
      return { type: e.type, at };
    case 'job.collected':
      return { type: e.type, at, job_id: e.jobId, state: e.state, files: e.files, error: e.error };
    case 'worker.state':
      return { type: `worker.${e.state}`, at, worker: e.worker, detail: e.detail ?? null };
    default:
      return null;
  }
}
