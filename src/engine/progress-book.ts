/**
 * The live progress of running jobs: one pure tracker per job (domain
 * progress.ts), fed by the frames its worker relays. It keeps the latest
 * state for answers that poll (GET /api/pqueue) and for the event websocket,
 * and drops it when the job leaves the worker.
 */
import { createProgress, feed, type ProgressState } from '../domain/progress.js';
import { type ProgressSnapshot, snapshot } from '../domain/progress-snapshot.js';
import type { Engine } from './engine.js';
import type { EventBus } from './events.js';

export class ProgressBook {
  private readonly byJob = new Map<string, ProgressState>();

  constructor(
    engine: Engine,
    bus: EventBus,
    private readonly now: () => number,
  ) {
    bus.subscribe((e) => {
      if (e.type === 'job.started') {
        this.byJob.set(
          e.job.id,
          createProgress({
            promptId: e.job.id,
            prompt: e.job.prompt,
            workflow: e.job.workflow,
            startedAt: this.now(),
            targets: e.job.targets,
          }),
        );
      } else if (e.type === 'job.finished' || e.type === 'job.released') {
        this.byJob.delete(e.job.id);
      } else if (e.type === 'job.deleted') {
        for (const id of e.ids) this.byJob.delete(id);
      }
    });
    engine.onFrame((_worker, jobId, frame) => {
      if (!jobId || frame.kind !== 'text') return;
      const state = this.byJob.get(jobId);
      if (state) this.byJob.set(jobId, feed(state, frame.message, this.now()));
    });
  }

  /** Starts tracking a job adopted after a restart (no job.started is published for it). */
  track(job: Parameters<typeof createProgress>[0]): void {
    if (!this.byJob.has(job.promptId)) this.byJob.set(job.promptId, createProgress(job));
  }

  state(jobId: string): ProgressState | null {
    return this.byJob.get(jobId) ?? null;
  }

  get(jobId: string): ProgressSnapshot | null {
    const s = this.byJob.get(jobId);
    return s ? snapshot(s, this.now()) : null;
  }
}
