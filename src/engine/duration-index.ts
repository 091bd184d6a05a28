/**
 * How long runs of a workflow took on each worker, for the estimates of
 * duration-estimate.ts: warmed from the store's recently completed jobs at
 * start-up, then fed by every job that completes. A run's duration is taken
 * from ComfyUI's execution_start (seen on the relayed frames) to its end, so
 * the time a job waited in the worker's own queue does not count; jobs read
 * from the store at start-up only have started_at (handed to the worker), so
 * their figures can include such a wait.
 */
import {
  estimateDuration,
  estimateStartTimes,
  formatStartsIn,
  workflowKey,
} from '../domain/duration-estimate.js';
import type { Job } from '../domain/job.js';
import type { JobStore } from '../store/job-store.js';
import type { Engine } from './engine.js';
import type { ProgressBook } from './progress-book.js';
import type { WorkerPort } from './worker-port.js';

/** Durations kept per workflow and worker: more than the estimator looks at, for the pooled figure. */
const KEEP = 20;
/**
 * Workflows remembered, the most recently run: a sweep gives each combination
 * of settings a workflow of its own, and a farm runs hundreds of thousands.
 */
export const WORKFLOWS_KEPT = 1_000;
/** Completed jobs read at start-up. */
export const WARM_JOBS = 500;

export interface JobEstimate {
  /** expected total duration from earlier runs of the same workflow; null without history */
  expected_ms: number | null;
  /** running jobs: expected time left */
  remaining_ms?: number | null;
  /** pending jobs: expected wait before it starts, null when unknown */
  starts_in_ms?: number | null;
  starts_at?: number | null;
  /** "starts in ~3 min" */
  starts_in?: string | null;
}

export class DurationIndex {
  /** workflow key → worker → durations, oldest first; the least recently run workflow first */
  private readonly runs = new Map<string, Map<string, number[]>>();
  private readonly keyOf = new Map<string, string>();
  /** when ComfyUI started executing each running job */
  private readonly execStart = new Map<string, number>();

  constructor(
    engine: Engine,
    private readonly progress: ProgressBook,
    private readonly now: () => number,
  ) {
    engine.onFrame((_worker, jobId, frame) => {
      if (
        jobId &&
        frame.kind === 'text' &&
        frame.message.type === 'execution_start' &&
        !this.execStart.has(jobId)
      )
        this.execStart.set(jobId, now());
    });
    engine.bus.subscribe((e) => {
      if (e.type === 'job.finished') {
        const start = this.execStart.get(e.job.id);
        if (e.job.status === 'completed' && e.job.worker && start !== undefined)
          this.record(this.key(e.job), e.job.worker, now() - start);
        this.forget(e.job.id);
      } else if (e.type === 'job.released') this.forget(e.job.id);
      else if (e.type === 'job.deleted') for (const id of e.ids) this.forget(id);
    });
  }

  /** Reads the durations of recently completed jobs (newest WARM_JOBS). */
  async warm(store: JobStore, limit = WARM_JOBS): Promise<void> {
    const page = await store.listJobs({ statuses: ['completed'], sort: 'ended_at', order: 'desc', limit });
    const found: { job: Job; ms: number }[] = [];
    for (const item of page.jobs) {
      if (!item.worker || item.startedAt === null || item.endedAt === null) continue;
      const job = await store.get(item.id);
      if (job) found.push({ job, ms: item.endedAt - item.startedAt });
    }
    for (const { job, ms } of found.reverse()) this.record(workflowKey(job.prompt), job.worker!, ms);
  }

  /** Expected duration of `job` on `worker`; on no worker in particular (pending), over all workers. */
  expectedMs(job: Job, worker: string | null): number | null {
    const byWorker = this.runs.get(this.key(job));
    if (!byWorker) return null;
    if (worker !== null) {
      const own = estimateDuration(byWorker.get(worker) ?? []);
      if (own !== null) return own;
    }
    const pooled: number[] = [];
    for (const runs of byWorker.values()) pooled.push(...runs.slice(-5));
    return estimateDuration(pooled, pooled.length);
  }

  /** Estimates for the running and pending jobs (pending in queue order). */
  estimate(
    running: readonly Job[],
    pending: readonly Job[],
    workers: readonly WorkerPort[],
  ): Map<string, JobEstimate> {
    const now = this.now();
    const out = new Map<string, JobEstimate>();
    const busy = new Map<string, number | null>();
    for (const job of running) {
      const expected = this.expectedMs(job, job.worker);
      const remaining = this.remainingMs(job, expected, now);
      out.set(job.id, { expected_ms: expected, remaining_ms: remaining });
      if (job.worker) {
        const sofar = busy.has(job.worker) ? busy.get(job.worker)! : 0;
        busy.set(job.worker, sofar === null || remaining === null ? null : sofar + remaining);
      }
    }
    const lanes = workers.filter((w) => w.state === 'online' && !w.draining).map((w) => busy.get(w.id) ?? 0);
    const expected = pending.map((job) => ({ id: job.id, expectedMs: this.expectedMs(job, null) }));
    const starts = estimateStartTimes(expected, lanes, now);
    starts.forEach((s, i) => {
      out.set(s.id, {
        expected_ms: expected[i]!.expectedMs,
        starts_in_ms: s.startsInMs,
        starts_at: s.startsAt,
        starts_in: s.startsInMs === null ? null : formatStartsIn(s.startsInMs),
      });
    });
    return out;
  }

  private remainingMs(job: Job, expected: number | null, now: number): number | null {
    const start = this.execStart.get(job.id);
    if (start === undefined) return expected; // still waiting in the worker's own queue
    const left = expected === null ? null : expected - (now - start);
    if (left !== null && left > 0) return left;
    // Past its expected duration (or none known): the live tracker's ETA, else "any moment".
    const eta = this.progress.get(job.id)?.etaMs ?? null;
    return eta ?? (expected === null ? null : 0);
  }

  private record(key: string, worker: string, ms: number): void {
    if (!(ms >= 0)) return;
    const byWorker = this.runs.get(key) ?? new Map<string, number[]>();
    this.runs.delete(key); // back in at the end: the most recently run
    this.runs.set(key, byWorker);
    if (this.runs.size > WORKFLOWS_KEPT) this.runs.delete(this.runs.keys().next().value!);
    const list = byWorker.get(worker) ?? [];
    list.push(ms);
    if (list.length > KEEP) list.shift();
    byWorker.set(worker, list);
  }

  private key(job: Job): string {
    let k = this.keyOf.get(job.id);
    if (k === undefined) {
      k = workflowKey(job.prompt);
      this.keyOf.set(job.id, k);
    }
    return k;
  }

  private forget(id: string): void {
    this.keyOf.delete(id);
    this.execStart.delete(id);
  }
}
