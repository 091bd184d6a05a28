/**
 * The engine: queue commands, the scheduler and what workers report. Every
 * change is committed in the store before it is announced on the bus or
 * answered to the caller.
 */

import { QueueError } from '../domain/errors.js';
import type { Job, PromptGraph } from '../domain/job.js';
import { compareQueueOrder, isFinished } from '../domain/job.js';
import { errMessage, type Logger, silentLogger } from '../logging/logger.js';
import type { FinishPatch, JobStore } from '../store/job-store.js';
import type { EventBus, WorkerState } from './events.js';
import { buildNewJob, type EnqueueInput, requeueInput } from './new-job.js';
import { PAUSED_KEY } from './settings.js';
import type { WorkerFrame, WorkerPort, WorkerReports } from './worker-port.js';

export interface EngineOptions {
  now: () => number;
  newId: () => string;
  /** how long a worker's claim on a job holds without renewal */
  leaseMs: number;
  /** a job lost this many times by workers fails instead of going back to pending */
  maxAttempts: number;
  log?: Logger;
}

/** Why a pending job is not dispatched for now (no worker can run it), and since when. */
export interface PendingHold {
  reason: string;
  since: number;
  /** when it fails unless a worker that can run it appears */
  failAt: number;
}

/** The first retry of a failed claim waits this long, doubling up to CLAIM_RETRY_MAX_MS. */
const CLAIM_RETRY_MS = 100;
const CLAIM_RETRY_MAX_MS = 5_000;

export type FrameListener = (worker: string, jobId: string | null, frame: WorkerFrame) => void;

export class Engine implements WorkerReports {
  readonly workers = new Map<string, WorkerPort>();
  private paused = false;
  private pumping = false;
  private pumpAgain = false;
  private closed = false;
  private readonly frameListeners = new Set<FrameListener>();
  /** claims under way per worker, so that two paths never overfill one */
  private readonly claiming = new Map<string, number>();
  private leaseTimer: NodeJS.Timeout | null = null;
  private claimRetryMs = CLAIM_RETRY_MS;
  private claimRetryTimer: NodeJS.Timeout | null = null;
  /** jobs cancelled while in_progress but not yet handed to their worker (between claim and run) */
  private readonly cancelBeforeRun = new Set<string>();
  /** pending jobs kept back from dispatch: no worker can run them now (revalidate.ts) */
  private readonly holds = new Map<string, PendingHold>();
  private readonly log: Logger;

  constructor(
    readonly store: JobStore,
    readonly bus: EventBus,
    private readonly opts: EngineOptions,
  ) {
    this.log = opts.log ?? silentLogger;
  }

  /** Loads the paused flag and hands every job that was running back to its worker for reconciling. */
  async start(workers: WorkerPort[]): Promise<void> {
    this.paused = (await this.store.getSetting(PAUSED_KEY)) === 'true';
    for (const w of workers) this.workers.set(w.id, w);
    for (const job of await this.store.listInProgress()) {
      const w = job.worker ? this.workers.get(job.worker) : undefined;
      if (w) w.adopt(job);
      else await this.lost(job.worker ?? '?', job.id, `worker ${job.worker} is no longer configured`);
    }
    for (const w of workers) w.start();
    this.leaseTimer = setInterval(() => void this.renewLeases(), Math.max(1_000, this.opts.leaseMs / 3));
    this.leaseTimer.unref();
    this.pump();
  }

  async stop(): Promise<void> {
    this.closed = true;
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    if (this.claimRetryTimer) clearTimeout(this.claimRetryTimer);
    await Promise.all([...this.workers.values()].map((w) => w.stop()));
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Jobs held by a worker that it has not started: they wait in ComfyUI's own queue (dispatch lookahead). */
  waitingJobIds(): Set<string> {
    const ids = new Set<string>();
    for (const w of this.workers.values()) for (const job of w.waitingJobs()) ids.add(job.id);
    return ids;
  }

  /** Why a pending job is held back from dispatch, or null. */
  holdOf(id: string): PendingHold | null {
    return this.holds.get(id) ?? null;
  }

  heldIds(): string[] {
    return [...this.holds.keys()];
  }

  /** Keeps a pending job from being dispatched (no worker can run it now), or lets it go again (null). */
  setHold(id: string, hold: PendingHold | null): void {
    const had = this.holds.has(id);
    if (hold) {
      this.holds.set(id, hold);
      if (!had) this.log.warn({ job: id, failAt: hold.failAt }, `job waits: ${hold.reason}`);
      return;
    }
    if (!this.holds.delete(id)) return;
    this.log.debug({ job: id }, 'job no longer waits');
    this.pump();
  }

  onFrame(listener: FrameListener): () => void {
    this.frameListeners.add(listener);
    return () => this.frameListeners.delete(listener);
  }

  // ---- commands -------------------------------------------------------

  async enqueue(input: EnqueueInput): Promise<Job> {
    const [job] = await this.enqueueMany([input]);
    return job!;
  }

  /** Enqueues several jobs at once, all or nothing: if any id is taken, none is stored. */
  async enqueueMany(inputs: EnqueueInput[]): Promise<Job[]> {
    const now = this.opts.now();
    const results = await this.store.enqueue(
      inputs.map((i) => buildNewJob(i, now, this.opts.newId)),
      { allOrNothing: true },
    );
    const taken = results.filter((r) => !r.ok && r.code === 'DUPLICATE_ID').map((r) => r.id);
    if (results.some((r) => !r.ok)) {
      throw new QueueError(
        'DUPLICATE_ID',
        taken.length === 1 && inputs.length === 1
          ? `A job with prompt_id ${taken[0]} already exists.`
          : `These prompt_ids are taken (or repeated): ${taken.join(', ')}; none of the ${inputs.length} jobs was queued.`,
        inputs.length > 1 ? { taken } : undefined,
      );
    }
    const jobs: Job[] = [];
    for (const r of results) {
      if (!r.ok) continue; // checked above
      jobs.push(r.job);
      this.bus.publish({ type: 'job.queued', job: r.job });
    }
    this.withdrawWaiting((waiting) => jobs.some((j) => compareQueueOrder(j, waiting) < 0));
    this.pump();
    return jobs;
  }

  async pause(): Promise<void> {
    await this.store.setSetting(PAUSED_KEY, 'true');
    this.paused = true;
    this.bus.publish({ type: 'queue.paused' });
    this.withdrawWaiting(() => true);
  }

  async resume(): Promise<void> {
    await this.store.setSetting(PAUSED_KEY, 'false');
    this.paused = false;
    this.bus.publish({ type: 'queue.resumed' });
    this.pump();
  }

  async reorder(ids: string[]): Promise<void> {
    for (const id of ids) await this.requirePending(id);
    await this.store.reorder(ids);
    this.bus.publish({ type: 'queue.reordered', ids });
    this.withdrawWaiting(() => true);
  }

  async setPriority(id: string, priority: number): Promise<Job> {
    await this.requirePending(id);
    const job = await this.store.setPriority(id, priority);
    if (!job)
      throw new QueueError('NOT_PENDING', `Job ${id} is no longer pending; its priority cannot change.`);
    this.bus.publish({ type: 'job.updated', job });
    this.bus.publish({ type: 'queue.reordered', ids: [id] });
    this.withdrawWaiting((waiting) => compareQueueOrder(job, waiting) < 0);
    return job;
  }

  async rename(id: string, name: string | null): Promise<Job> {
    const job = await this.store.rename(id, name);
    if (!job) throw new QueueError('JOB_NOT_FOUND', `No job has the id ${id}.`);
    this.bus.publish({ type: 'job.updated', job });
    return job;
  }

  async setFlagged(id: string, flagged: boolean): Promise<Job> {
    const job = await this.store.setFlagged(id, flagged);
    if (!job) throw new QueueError('JOB_NOT_FOUND', `No job has the id ${id}.`);
    this.bus.publish({ type: 'job.updated', job });
    return job;
  }

  /** Deletes pending and finished jobs; a running job must be cancelled first. */
  async delete(ids: string[]): Promise<{ deleted: string[]; skipped: { id: string; reason: string }[] }> {
    const deleted = await this.store.delete(ids, ['pending', 'completed', 'failed', 'cancelled']);
    const gone = new Set(deleted);
    const skipped: { id: string; reason: string }[] = [];
    for (const id of ids) {
      if (gone.has(id)) continue;
      const job = await this.store.get(id);
      skipped.push({ id, reason: job ? 'the job is running: cancel it first' : 'no job has this id' });
    }
    if (deleted.length) this.bus.publish({ type: 'job.deleted', ids: deleted });
    return { deleted, skipped };
  }

  /** Cancels a pending job at once, or interrupts a running one (it ends `cancelled` when the worker confirms). */
  async cancel(id: string): Promise<Job> {
    const job = await this.getOrThrow(id);
    if (job.status === 'pending') {
      const done = await this.store.finishPending(id, {
        status: 'cancelled',
        endedAt: this.opts.now(),
        error: { type: 'cancelled', message: 'Cancelled before it ran' },
      });
      if (done) {
        this.bus.publish({ type: 'job.finished', job: done });
        return done;
      }
      return this.cancel(id); // it was dispatched meanwhile
    }
    if (job.status === 'in_progress') {
      const w = job.worker ? this.workers.get(job.worker) : undefined;
      // Claimed but not yet handed to the worker: dispatch() passes the cancel on.
      if (w && !(await w.cancel(id))) this.cancelBeforeRun.add(id);
      return job;
    }
    throw new QueueError('NOT_CANCELLABLE', `Job ${id} is ${job.status}; there is nothing to cancel.`);
  }

  /** A finished job runs again as a new pending job (optionally with new random seeds). */
  async requeue(id: string, opts: { newSeed?: boolean; priority?: number } = {}): Promise<Job> {
    const job = await this.getOrThrow(id);
    if (!isFinished(job.status))
      throw new QueueError(
        'NOT_FINISHED',
        `Job ${id} is ${job.status}; only a finished job can be requeued.`,
      );
    return this.enqueue(requeueInput(job, opts));
  }

  async getOrThrow(id: string): Promise<Job> {
    const job = await this.store.get(id);
    if (!job) throw new QueueError('JOB_NOT_FOUND', `No job has the id ${id}.`);
    return job;
  }

  private async requirePending(id: string): Promise<Job> {
    const job = await this.getOrThrow(id);
    if (job.status !== 'pending')
      throw new QueueError('NOT_PENDING', `Job ${id} is ${job.status}, not pending.`);
    return job;
  }

  // ---- scheduling -----------------------------------------------------

  /** Hands the first eligible pending job to each worker with room, until none is left. */
  pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    this.runPump()
      .catch((err) => {
        // Safe: a claimed job is in the store as in_progress and recovered like any; the next pump goes on.
        this.log.error({ err }, `scheduling failed: ${errMessage(err)}`);
      })
      .finally(() => {
        this.pumping = false;
      });
  }

  private async runPump(): Promise<void> {
    do {
      this.pumpAgain = false;
      for (const w of this.workers.values()) {
        while (this.hasRoom(w)) {
          const now = this.opts.now();
          let job: Job | null;
          this.claiming.set(w.id, (this.claiming.get(w.id) ?? 0) + 1);
          try {
            job = await this.store.claimNext(w.id, now, now + this.opts.leaseMs, [...this.holds.keys()]);
            this.claimRetryMs = CLAIM_RETRY_MS;
          } catch (err) {
            if (this.closed) return; // the store closes with the engine: nothing to retry
            this.retryClaims(err);
            return;
          } finally {
            this.claiming.set(w.id, (this.claiming.get(w.id) ?? 1) - 1);
          }
          if (!job) break;
          this.dispatch(w, job);
        }
      }
    } while (this.pumpAgain && !this.closed);
  }

  /** A claim failed (the database is busy, full, unreadable): try again later rather than stall. */
  private retryClaims(err: unknown): void {
    this.log.error(
      { err, retryInMs: this.claimRetryMs },
      `claiming the next job failed: ${errMessage(err)}; retrying`,
    );
    if (this.claimRetryTimer) return;
    this.claimRetryTimer = setTimeout(() => {
      this.claimRetryTimer = null;
      this.pump();
    }, this.claimRetryMs);
    this.claimRetryTimer.unref();
    this.claimRetryMs = Math.min(this.claimRetryMs * 2, CLAIM_RETRY_MAX_MS);
  }

  private hasRoom(w: WorkerPort): boolean {
    return !this.closed && !this.paused && w.freeSlots - (this.claiming.get(w.id) ?? 0) > 0;
  }

  private dispatch(w: WorkerPort, job: Job): void {
    this.bus.publish({ type: 'job.started', job });
    this.log.debug({ job: job.id, worker: w.id }, 'job dispatched');
    w.run(job);
    if (this.cancelBeforeRun.delete(job.id))
      w.cancel(job.id).catch((err) => this.logWorkerCall(w, job.id, 'cancel', err));
  }

  /**
   * Jobs waiting in a worker's own queue (dispatch lookahead) go back to the
   * pending queue when the order changes in a way that should put another
   * job before them; the worker then takes the right one.
   */
  private withdrawWaiting(shouldWithdraw: (waiting: Job) => boolean): void {
    for (const w of this.workers.values()) {
      for (const job of w.waitingJobs())
        if (shouldWithdraw(job))
          w.takeBack(job.id).catch((err) => this.logWorkerCall(w, job.id, 'take-back', err));
    }
  }

  /** A call on a worker that nobody awaits failed: logged; the driver's poll reconciles the job. */
  private logWorkerCall(w: WorkerPort, jobId: string, what: string, err: unknown): void {
    this.log.error({ err, worker: w.id, job: jobId }, `${what} failed: ${errMessage(err)}`);
  }

  private async renewLeases(): Promise<void> {
    const until = this.opts.now() + this.opts.leaseMs;
    for (const w of this.workers.values()) {
      const ids = w.heldJobIds();
      if (!ids.length) continue;
      try {
        await this.store.renewLeases(w.id, ids, until);
      } catch (err) {
        // Safe to go on: a lease only matters to a restart's recovery, and the next renewal (a third of
        // the lease later) extends it again; a closing store ends the timer with it.
        if (!this.closed) this.log.warn({ err, worker: w.id }, `renewing leases failed: ${errMessage(err)}`);
      }
    }
  }

  // ---- worker reports -------------------------------------------------

  /** Records the outcome and, in the same commit, claims the worker's next job when it has room. */
  async finished(worker: string, jobId: string, patch: FinishPatch): Promise<void> {
    const w = this.workers.get(worker);
    // The combined claim cannot skip held-back jobs: with any held, the pump claims instead.
    const claim = w && this.hasRoom(w) && this.holds.size === 0;
    if (claim) this.claiming.set(worker, (this.claiming.get(worker) ?? 0) + 1);
    let result: { finished: Job | null; next: Job | null };
    try {
      const now = this.opts.now();
      result = await this.store.finishAndClaim(
        jobId,
        patch,
        worker,
        claim ? { now, leaseUntil: now + this.opts.leaseMs } : null,
      );
    } finally {
      if (claim) this.claiming.set(worker, (this.claiming.get(worker) ?? 1) - 1);
    }
    this.cancelBeforeRun.delete(jobId);
    if (result.finished) this.bus.publish({ type: 'job.finished', job: result.finished });
    if (result.next && w) this.dispatch(w, result.next);
    else if (w && !claim) this.pump();
  }

  async withdrawn(
    worker: string,
    jobId: string,
    reason = 'taken back: the queue order changed',
  ): Promise<void> {
    const job = await this.store.release(jobId, null, worker);
    if (job) this.bus.publish({ type: 'job.released', job, reason });
    this.pump();
  }

  async lost(worker: string, jobId: string, reason: string): Promise<void> {
    const current = await this.store.get(jobId);
    if (current?.status !== 'in_progress' || current.worker !== worker) return;
    if (current.attempts >= this.opts.maxAttempts) {
      const job = await this.store.finish(
        jobId,
        {
          status: 'failed',
          endedAt: this.opts.now(),
          error: {
            type: 'worker_lost',
            message: `Lost by workers ${current.attempts} times; last: ${reason}`,
          },
        },
        worker,
      );
      if (job) this.bus.publish({ type: 'job.finished', job });
      return;
    }
    const job = await this.store.release(jobId, { type: 'worker_lost', message: reason }, worker);
    if (job) this.bus.publish({ type: 'job.released', job, reason });
    this.pump();
  }

  stateChanged(worker: string, state: WorkerState, detail?: string): void {
    this.bus.publish({ type: 'worker.state', worker, state, detail });
    if (state === 'online') this.pump();
  }

  frame(worker: string, jobId: string | null, frame: WorkerFrame): void {
    for (const l of this.frameListeners) l(worker, jobId, frame);
  }

  idle(_worker: string): void {
    this.pump();
  }
}

export type { EnqueueInput, PromptGraph };
