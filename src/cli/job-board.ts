/**
 * The jobs a live view follows, kept up to date from the event websocket's
 * messages (docs/events.md): each job's latest state and progress snapshot.
 * Pure: `apply` folds one message in and says which job it changed.
 */
import type { EventMessage } from './api-types.js';
import type { JobView, ProgressView } from './progress-bar.js';

export interface BoardEntry {
  job: JobView;
  /** the latest progress snapshot, with `at`, the server time of its message */
  progress: (ProgressView & { at: number }) | null;
}

export const FINAL = new Set(['completed', 'failed', 'cancelled']);

export type Change = { id: string; type: string } | null;

export class JobBoard {
  readonly entries = new Map<string, BoardEntry>();
  paused = false;

  /** A snapshot replaces what is known of running jobs (a reconnect may have missed their ends). */
  applySnapshot(msg: EventMessage): void {
    this.paused = msg.paused === true;
    for (const r of msg.running ?? []) {
      this.entries.set(r.job.prompt_id, {
        job: r.job,
        progress: r.progress ? { ...r.progress, at: msg.at } : null,
      });
    }
  }

  apply(msg: EventMessage): Change {
    switch (msg.type) {
      case 'queue.paused':
        this.paused = true;
        return null;
      case 'queue.resumed':
        this.paused = false;
        return null;
      case 'progress': {
        const e = msg.job_id ? this.entries.get(msg.job_id) : undefined;
        if (!e || !msg.progress || FINAL.has(e.job.status)) return null;
        e.progress = { ...msg.progress, at: msg.at };
        return { id: msg.job_id as string, type: msg.type };
      }
      case 'job.queued':
      case 'job.started':
      case 'job.finished':
      case 'job.failed':
      case 'job.cancelled':
      case 'job.released':
      case 'job.updated': {
        const job = msg.job;
        if (!job) return null;
        const e = this.entries.get(job.prompt_id);
        // A late job.updated must not undo an end already seen.
        if (e && FINAL.has(e.job.status) && !FINAL.has(job.status)) return null;
        this.entries.set(job.prompt_id, {
          job: { ...e?.job, ...job },
          progress: msg.type === 'job.started' ? null : (e?.progress ?? null),
        });
        return { id: job.prompt_id, type: msg.type };
      }
      case 'job.deleted':
        for (const id of msg.ids ?? []) this.entries.delete(id);
        return null;
      default:
        return null;
    }
  }

  /**
   * Sets a job's state from an HTTP answer (after a reconnect, or right after
   * submitting it), unless the events already told of a later state.
   */
  set(job: JobView & { progress?: ProgressView | null }, at: number): void {
    const e = this.entries.get(job.prompt_id);
    if (e && rank(e.job.status) > rank(job.status)) return;
    this.entries.set(job.prompt_id, {
      job,
      progress: job.progress ? { ...job.progress, at } : (e?.progress ?? null),
    });
  }
}

function rank(status: string): number {
  return FINAL.has(status) ? 2 : status === 'in_progress' ? 1 : 0;
}
