/**
 * The live progress of running jobs: one pure tracker per job (domain
 * progress.ts), fed by the frames its worker relays. It keeps the latest
 * state for answers that poll (GET /api/pqueue) and for the event websocket,
 * and drops it when the job leaves the worker.
 */
import { workflowKey } from '../domain/duration-estimate.js';
import { learnNodeMs } from '../domain/node-weights.js';
import { createProgress, feed, type ProgressState } from '../domain/progress.js';
import { type ProgressSnapshot, snapshot } from '../domain/progress-snapshot.js';
import type { Engine } from './engine.js';
import type { EventBus } from './events.js';

/** Workflow-and-worker pairs whose node durations are remembered; the oldest is forgotten past this. */
const LEARNED_MAX = 2_000;

export class ProgressBook {
  private readonly byJob = new Map<string, ProgressState>();
  /** when the last frame of each tracked job arrived */
  private readonly lastFrame = new Map<string, number>();
  /** `${workflowKey} ${worker}` → node id → learned ms (node-weights.ts) */
  private readonly learned = new Map<string, Record<string, number>>();

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
            learnedMs: e.job.worker ? this.learned.get(`${workflowKey(e.job.prompt)} ${e.job.worker}`) : null,
          }),
        );
        this.lastFrame.set(e.job.id, this.now());
      } else if (e.type === 'job.finished' || e.type === 'job.released') {
        const state = this.byJob.get(e.job.id);
        if (state && e.type === 'job.finished' && e.job.status === 'completed' && e.job.worker)
          this.learn(`${workflowKey(e.job.prompt)} ${e.job.worker}`, state.nodeMs);
        this.drop(e.job.id);
      } else if (e.type === 'job.deleted') {
        for (const id of e.ids) this.drop(id);
      }
    });
    engine.onFrame((_worker, jobId, frame) => {
      if (!jobId || frame.kind !== 'text') return;
      const state = this.byJob.get(jobId);
      if (!state) return;
      this.byJob.set(jobId, feed(state, frame.message, this.now()));
      this.lastFrame.set(jobId, this.now());
    });
  }

  /** When the job's worker last sent anything about it (or it was handed over): a silent run is stale. */
  lastMessageAt(jobId: string): number | null {
    return this.lastFrame.get(jobId) ?? null;
  }

  private learn(key: string, run: Readonly<Record<string, number>>): void {
    if (Object.keys(run).length === 0) return;
    const merged = learnNodeMs(this.learned.get(key), run);
    this.learned.delete(key);
    this.learned.set(key, merged);
    if (this.learned.size > LEARNED_MAX) this.learned.delete(this.learned.keys().next().value!);
  }

  private drop(id: string): void {
    this.byJob.delete(id);
    this.lastFrame.delete(id);
  }

  /** Starts tracking a job adopted after a restart (no job.started is published for it). */
  track(job: Parameters<typeof createProgress>[0]): void {
    if (this.byJob.has(job.promptId)) return;
    this.byJob.set(job.promptId, createProgress(job));
    this.lastFrame.set(job.promptId, this.now());
  }

  state(jobId: string): ProgressState | null {
    return this.byJob.get(jobId) ?? null;
  }

  get(jobId: string): ProgressSnapshot | null {
    const s = this.byJob.get(jobId);
    return s ? snapshot(s, this.now()) : null;
  }
}
