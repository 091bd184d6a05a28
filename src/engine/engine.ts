/**
 * The engine: queue commands, the scheduler and what workers report. Every
 * change is committed in the store before it is announced on the bus or
 * answered to the caller.
 */

import { workflowKey } from '../domain/duration-estimate.js';
import { QueueError } from '../domain/errors.js';
import type { Job, PromptGraph } from '../domain/job.js';
import { compareQueueOrder, isFinished, workflowIdOf } from '../domain/job.js';
import { capabilitiesOf, type JobNeeds, needsOf } from '../farm/capabilities.js';
import { classifyFailure } from '../farm/failure-class.js';
import { busyFor, earliestFinishTakers, type PlannedJob, RunTimes } from '../farm/finish-times.js';
import { pickNext, rankWorkers, waitingReason } from '../farm/routing.js';
import { WorkerRegistry } from '../farm/worker-registry.js';
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
  /** a job that failed because of its worker (out of memory, a crash) goes to another worker this many times */
  maxRetries?: number;
  /** the farm's workers (tags, modes, failure records); one over the same store by default */
  registry?: WorkerRegistry;
  /** how often the scheduler looks for work even when nothing woke it (a missed wake-up never strands a job) */
  tickMs?: number;
  /** benchmarks only: route without model affinity (a worker's loaded checkpoint does not count) */
  noModelAffinity?: boolean;
  /**
   * Several servers share the store (src/cluster): a running job of a worker
   * this server does not drive belongs to another server; it is left alone at
   * start, and a cancel of it is passed on to the server that drives it.
   */
  shared?: { cancelElsewhere(job: Job): void };
  log?: Logger;
}

/** See Engine.readObjectInfoThrough. */
export type ObjectInfoSource = (worker: string) => Promise<Record<string, unknown> | null> | undefined;

/** The most pending jobs the scheduler looks at per pass: the first ones in run order. */
const ROUTING_WINDOW = 200;
/** The most pending jobs laid out by the earliest-finish rule (finish-times.ts): enough to give a slow worker its share. */
const PLAN_WINDOW = 64;
/** Pending jobs read past those a pass expects to place, for the ones that turn out unable to go anywhere. */
const WINDOW_SLACK = 8;

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
  /** pending jobs no online worker can run now, and why (routing.ts); they run when one can */
  private readonly unroutable = new Map<string, { reason: string; since: number }>();
  /** what each recently seen job needs of a worker, by id */
  private readonly needsCache = new Map<string, JobNeeds>();
  /** each recently seen job's run-time key (its workflow, seeds and texts aside), by id */
  private readonly runKeyCache = new Map<string, string>();
  private tickTimer: NodeJS.Timeout | null = null;
  /** how long each workflow runs on each worker, for the earliest-finish rule */
  readonly runTimes = new RunTimes();
  /** jobs handed to workers: their run-time key, and when ComfyUI started executing them */
  private readonly handed = new Map<string, { key: string; runStart?: number }>();
  readonly registry: WorkerRegistry;
  private readonly log: Logger;

  constructor(
    readonly store: JobStore,
    readonly bus: EventBus,
    private readonly opts: EngineOptions,
  ) {
    this.log = opts.log ?? silentLogger;
    this.registry = opts.registry ?? new WorkerRegistry(store, opts.now);
  }

  /**
   * Loads the paused flag and hands every job that was running back to its worker for reconciling.
   * A job held by a farm worker no longer configured goes back to the queue. A claim of an external
   * worker (the render tracker's: a name no farm worker has) is kept: it holds until its lease
   * ends, when the tracker's sweeper gives it back, and its holder may report on it meanwhile.
   */
  async start(workers: WorkerPort[]): Promise<void> {
    this.paused = (await this.store.getSetting(PAUSED_KEY)) === 'true';
    await this.registry.load();
    for (const w of workers) this.workers.set(w.id, w);
    for (const job of await this.store.listInProgress()) {
      const w = job.worker ? this.workers.get(job.worker) : undefined;
      if (w) w.adopt(job);
      else if (job.worker && job.leaseUntil !== null && !this.registry.get(job.worker))
        this.log.info(
          { job: job.id, worker: job.worker, leaseUntil: job.leaseUntil },
          'external claim kept until its lease ends',
        );
      else if (!this.opts.shared)
        await this.returnUnowned(job, `worker ${job.worker} is no longer configured`);
    }
    this.bus.subscribe((e) => {
      // Events of other servers (src/cluster) arrive here too: the paused flag and new work.
      if (e.type === 'queue.paused' || e.type === 'queue.resumed')
        this.followPaused(e.type === 'queue.paused');
      else if (e.type === 'job.queued' || e.type === 'job.released') this.pump();
      if (e.type !== 'worker.state' || !this.workers.has(e.worker)) return;
      if (e.state === 'online') void this.learnCapabilities(e.worker);
      else this.registry.forgetCapabilities(e.worker);
    });
    for (const w of workers) w.start();
    this.leaseTimer = setInterval(() => void this.renewLeases(), Math.max(1_000, this.opts.leaseMs / 3));
    this.leaseTimer.unref();
    this.tickTimer = setInterval(() => this.pump(), this.opts.tickMs ?? 2_000);
    this.tickTimer.unref();
    this.pump();
  }

  /** A job whose worker is gone: back to pending without spending a retry (the worker left, not the job). */
  private async returnUnowned(job: Job, reason: string): Promise<void> {
    const back = await this.store.release(
      job.id,
      { type: 'worker_removed', message: reason },
      job.worker ?? undefined,
    );
    if (back) {
      this.handed.delete(job.id);
      this.log.warn({ job: job.id, worker: job.worker }, `job back in the queue: ${reason}`);
      this.bus.publish({ type: 'job.released', job: back, reason });
    }
  }

  private followPaused(paused: boolean): void {
    if (this.paused === paused) return;
    this.paused = paused;
    if (paused) this.withdrawWaiting(() => true);
    else this.pump();
  }

  /**
   * Starts driving a worker that another server drove (src/cluster): the jobs
   * it holds are adopted and reconciled against its queue and history, as at
   * a restart.
   */
  async adoptWorker(w: WorkerPort): Promise<void> {
    if (this.workers.has(w.id))
      throw new QueueError('DUPLICATE_WORKER', `A worker named ${w.id} exists already.`);
    const held = (await this.store.listInProgress()).filter((job) => job.worker === w.id);
    this.workers.set(w.id, w);
    for (const job of held) w.adopt(job);
    w.start();
    this.pump();
  }

  /** Stops driving a worker without touching its jobs: another server takes it over (src/cluster). */
  async releaseWorker(id: string): Promise<void> {
    const w = this.workers.get(id);
    if (!w) return;
    this.workers.delete(id);
    for (const jobId of w.heldJobIds()) this.handed.delete(jobId);
    await w.stop();
    this.registry.forgetCapabilities(id);
  }

  /** Interrupts a running job if a worker of this server holds it (a cancel made on another server). */
  async cancelHere(id: string): Promise<void> {
    const job = await this.store.get(id);
    if (job?.status !== 'in_progress' || !job.worker) return;
    const w = this.workers.get(job.worker);
    if (w && !(await w.cancel(id))) this.cancelBeforeRun.add(id);
  }

  /** Adds a worker at run time (it starts connecting at once). */
  addWorker(w: WorkerPort): void {
    if (this.workers.has(w.id))
      throw new QueueError('DUPLICATE_WORKER', `A worker named ${w.id} exists already.`);
    this.workers.set(w.id, w);
    w.start();
  }

  /**
   * Removes a worker: it stops, and each job it held goes back to pending
   * without spending a retry (the driver's reconcile may have finished some
   * first: those keep their outcome).
   */
  async removeWorker(id: string): Promise<void> {
    const w = this.workers.get(id);
    if (!w) throw new QueueError('WORKER_NOT_FOUND', `No worker is named ${id}.`);
    this.workers.delete(id);
    for (const jobId of w.heldJobIds())
      await w.cancel(jobId).catch((err) => this.logWorkerCall(w, jobId, 'cancel on removal', err));
    await w.stop();
    for (const job of await this.store.listInProgress())
      if (job.worker === id) await this.returnUnowned(job, `worker ${id} was removed`);
    await this.registry.remove(id);
    this.bus.publish({ type: 'worker.state', worker: id, state: 'offline', detail: 'removed' });
    this.pump();
  }

  /**
   * Where a (re)connected worker's object_info is read from: the API's cache
   * (src/api/comfy-workers.ts) fetches it for validation at the same moment,
   * so both share one request to the worker (a real ComfyUI's object_info is
   * megabytes). It answers null when it could not read it, undefined for a
   * worker it does not know (the engine asks the worker itself).
   */
  readObjectInfoThrough(source: ObjectInfoSource): void {
    this.objectInfoSource = source;
  }
  private objectInfoSource: ObjectInfoSource | null = null;

  /** Reads a worker's node types and models when it (re)connects, for routing. */
  private async learnCapabilities(id: string): Promise<void> {
    const w = this.workers.get(id);
    if (!w) return;
    try {
      const info = await (this.objectInfoSource?.(id) ?? w.objectInfo());
      // Safe: the source logged why; without capabilities the worker may run anything, as below.
      if (!info) return;
      const capabilities = capabilitiesOf(info);
      this.registry.setCapabilities(id, capabilities);
      w.knowOutputNodes?.(capabilities.outputNodes);
      this.registry.idle(id);
      this.pump();
    } catch (err) {
      // Safe: without capabilities the worker is treated as able to run anything, as before routing.
      this.log.warn(
        { err, worker: id },
        `reading the node types and models of ${id} failed: ${errMessage(err)}`,
      );
    }
  }

  /** Why a pending job is not running: held back (it fails at `failAt`) or no online worker can run it. */
  waitingOf(id: string): { reason: string; since: number; failAt: number | null } | null {
    const hold = this.holds.get(id);
    if (hold) return hold;
    const u = this.unroutable.get(id);
    return u ? { ...u, failAt: null } : null;
  }

  /** Why a pending job waits although workers are free, or null. */
  unroutableOf(id: string): { reason: string; since: number } | null {
    return this.unroutable.get(id) ?? null;
  }

  async stop(): Promise<void> {
    this.closed = true;
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    if (this.tickTimer) clearInterval(this.tickTimer);
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

  /** Pending jobs changed places (queue-handling.ts): told, and jobs waiting on workers are taken back. */
  queueMoved(ids: string[]): void {
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
      else if (!w) this.opts.shared?.cancelElsewhere(job);
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
        // A wake-up that came after the loop's last check but before this point would wait for the
        // tick: look again now.
        if (this.pumpAgain && !this.closed) this.pump();
      });
  }

  private async runPump(): Promise<void> {
    do {
      this.pumpAgain = false;
      if (!(await this.routePass())) return;
    } while (this.pumpAgain && !this.closed);
  }

  /**
   * One pass of the scheduler: the first pending jobs in run order, each to
   * the best able worker with room (routing.ts). Resolves false when a claim
   * failed (a retry is scheduled).
   */
  private async routePass(): Promise<boolean> {
    const live = () => this.liveWorkers();
    const room = (w: { id: string }) => this.roomOf(w.id);
    const freeSlots = live().reduce((sum, w) => sum + room(w), 0);
    if (freeSlots === 0) return true;
    let pending: Job[];
    try {
      pending = await this.store.listPending(this.windowFor(freeSlots + this.unroutable.size));
    } catch (err) {
      if (this.closed) return false;
      this.retryClaims(err);
      return false;
    }
    // Workers the earliest-finish rule keeps from taking work now (a faster one will end it sooner).
    const withheld = this.withheld(pending);
    const roomNow = (w: { id: string }) => (withheld.has(w.id) ? 0 : room(w));
    const seen = new Set<string>();
    for (const job of pending) {
      seen.add(job.id);
      if (this.holds.has(job.id)) continue;
      const needs = this.needsFor(job);
      const snapshots = this.registry.snapshots(live(), roomNow);
      const best = rankWorkers(needs, snapshots)[0];
      if (!best) {
        this.noteUnroutable(job, needs);
        if (!snapshots.some((s) => s.freeSlots > 0)) break;
        continue;
      }
      this.unroutable.delete(job.id);
      const w = this.workers.get(best.id)!;
      const now = this.opts.now();
      let claimed: Job | null;
      this.claiming.set(w.id, (this.claiming.get(w.id) ?? 0) + 1);
      try {
        claimed = await this.store.claimJob(job.id, w.id, now, now + this.opts.leaseMs);
        this.claimRetryMs = CLAIM_RETRY_MS;
      } catch (err) {
        if (this.closed) return false; // the store closes with the engine: nothing to retry
        this.retryClaims(err);
        return false;
      } finally {
        this.claiming.set(w.id, (this.claiming.get(w.id) ?? 1) - 1);
      }
      if (claimed && this.workers.get(w.id) === w) this.dispatch(w, claimed, needs);
      else if (claimed) await this.returnUnowned(claimed, `worker ${w.id} was removed`);
    }
    for (const id of this.unroutable.keys()) if (!seen.has(id)) this.unroutable.delete(id);
    this.stealForIdle(live());
    return true;
  }

  /**
   * The online workers with room that the earliest-finish layout of the first
   * pending jobs gives nothing (finish-times.ts); empty when it has no opinion.
   */
  private withheld(pending: readonly Job[]): Set<string> {
    const none = new Set<string>();
    const online = this.liveWorkers().filter((w) => w.online);
    if (online.length < 2 || pending.length === 0) return none;
    const everyone = this.registry.snapshots(online, () => 1);
    const jobs: PlannedJob[] = [];
    for (const job of pending.slice(0, this.planWindow(online.length))) {
      if (this.holds.has(job.id)) continue;
      const able = rankWorkers(this.needsFor(job), everyone).map((s) => s.id);
      jobs.push({ key: this.runKeyOf(job), able });
    }
    const busy = new Map<string, number | null>();
    for (const s of everyone) if (s.state === 'online') busy.set(s.id, this.busyMs(s.id));
    const takers = earliestFinishTakers(jobs, busy, (w, k) => this.runTimes.estimate(w, k));
    if (!takers) return none;
    return new Set(online.filter((w) => !takers.has(w.id)).map((w) => w.id));
  }

  /** How long a worker needs for what it holds, by its run times; null when one is unknown. */
  private busyMs(id: string): number | null {
    const w = this.workers.get(id);
    if (!w) return null;
    const held = w.heldJobIds().map((jobId) => {
      const h = this.handed.get(jobId);
      return { key: h?.key, startedAt: h?.runStart };
    });
    return busyFor(id, held, (wk, k) => this.runTimes.estimate(wk, k), this.opts.now());
  }

  /** A job no online worker can run now: remembered with the reason (shown on the job), logged once. */
  private noteUnroutable(job: Job, needs: JobNeeds): void {
    const everyone = this.registry.snapshots(this.liveWorkers(), () => 1);
    if (rankWorkers(needs, everyone).length > 0) {
      this.unroutable.delete(job.id); // able workers exist; they are only busy
      return;
    }
    const reason = waitingReason(needs, this.registry.snapshots(this.liveWorkers()));
    const was = this.unroutable.get(job.id);
    if (was?.reason === reason) return;
    const since = was?.since ?? this.opts.now();
    this.unroutable.set(job.id, { reason, since });
    this.log.info({ job: job.id }, `job waits: ${reason}`);
    this.bus.publish({ type: 'job.waiting', job, reason, since });
  }

  /**
   * An idle worker never waits while a job it could run sits in another
   * worker's own queue (dispatch lookahead): that job is taken back, and the
   * next pass gives it to the idle worker (idle longest ranks first).
   */
  private stealForIdle(live: readonly { id: string; online: boolean; freeSlots: number }[]): void {
    const idle = this.registry
      .snapshots(live, (w) => this.roomOf(w.id))
      .filter((s) => s.state === 'online' && s.freeSlots > 0);
    if (idle.length === 0) return;
    for (const owner of this.workers.values()) {
      for (const job of owner.waitingJobs()) {
        const needs = this.needsFor(job);
        if (
          idle.some(
            (s) =>
              s.id !== owner.id &&
              rankWorkers(needs, [s]).length > 0 &&
              !this.slowerThan(s.id, owner.id, job),
          )
        ) {
          owner.takeBack(job.id).catch((err) => this.logWorkerCall(owner, job.id, 'take-back', err));
          return; // one at a time: the pass that follows re-routes it
        }
      }
    }
  }

  /**
   * Whether the job, waiting on `owner`, would end later on the idle worker `idle` than where it
   * is (run times known on both); unknown run times say no, and the job is taken back as before.
   */
  private slowerThan(idle: string, owner: string, job: Job): boolean {
    const key = this.runKeyOf(job);
    const there = this.runTimes.estimate(idle, key);
    const ownerBusy = this.busyMs(owner);
    const idleBusy = this.busyMs(idle);
    if (there === null || ownerBusy === null || idleBusy === null) return false;
    return idleBusy + there >= ownerBusy;
  }

  private liveWorkers(): { id: string; online: boolean; freeSlots: number }[] {
    return [...this.workers.values()].map((w) => ({
      id: w.id,
      online: w.state === 'online',
      freeSlots: w.freeSlots,
    }));
  }

  /** Jobs the worker may still take now: its free slots less the claims under way, 0 when paused or closing. */
  private roomOf(id: string): number {
    const w = this.workers.get(id);
    if (!w || this.closed || this.paused) return 0;
    return Math.max(0, w.freeSlots - (this.claiming.get(id) ?? 0));
  }

  private needsFor(job: Job): JobNeeds {
    let needs = this.needsCache.get(job.id);
    if (!needs) {
      needs = needsOf(job.prompt, { tags: job.requires, workflowId: workflowIdOf(job) });
      if (this.needsCache.size >= 4 * ROUTING_WINDOW)
        this.needsCache.delete(this.needsCache.keys().next().value!);
      this.needsCache.set(job.id, needs);
    }
    return needs;
  }

  private runKeyOf(job: Job): string {
    let key = this.runKeyCache.get(job.id);
    if (key === undefined) {
      key = workflowKey(job.prompt);
      if (this.runKeyCache.size >= 4 * ROUTING_WINDOW)
        this.runKeyCache.delete(this.runKeyCache.keys().next().value!);
      this.runKeyCache.set(job.id, key);
    }
    return key;
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

  private dispatch(w: WorkerPort, job: Job, needs: JobNeeds = this.needsFor(job)): void {
    this.registry.started(w.id, this.opts.noModelAffinity ? null : needs.checkpoint);
    this.handed.set(job.id, { key: this.runKeyOf(job) });
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
      if (w.renewsOwnLeases) continue; // an agent renews its own: its silence must let them lapse
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

  /**
   * Records the outcome and, in the same commit, claims the worker's next job
   * when it has room. A failure takes its class's rule (failure-class.ts):
   * the worker's fault → back to the queue for another worker, within the
   * retry budget; the infrastructure's → back without spending a retry; the
   * workflow's → failed at once.
   */
  async finished(worker: string, jobId: string, patch: FinishPatch, attempt?: number): Promise<void> {
    const w = this.workers.get(worker);
    if (attempt !== undefined && !(await this.heldUnder(worker, jobId, attempt))) {
      // A report of an earlier claim (fencing): the job moved on; nothing of it counts.
      this.log.warn({ job: jobId, worker, attempt }, 'report of an earlier claim ignored');
      this.pump();
      return;
    }
    if (
      patch.status === 'failed' &&
      patch.error &&
      (await this.retriedAfterFailure(worker, jobId, patch, attempt))
    )
      return;
    if (patch.status === 'completed') {
      await this.noteHealth(worker, () => this.registry.recordSuccess(worker));
      const h = this.handed.get(jobId);
      if (h?.runStart !== undefined) this.runTimes.record(worker, h.key, this.opts.now() - h.runStart);
    }
    this.handed.delete(jobId);
    const next = w ? await this.nextFor(w) : null;
    if (next) this.claiming.set(worker, (this.claiming.get(worker) ?? 0) + 1);
    let result: { finished: Job | null; next: Job | null };
    try {
      const now = this.opts.now();
      result = await this.store.finishAndClaim(
        jobId,
        patch,
        worker,
        next ? { now, leaseUntil: now + this.opts.leaseMs, jobId: next.job.id } : null,
        attempt,
      );
    } finally {
      if (next) this.claiming.set(worker, (this.claiming.get(worker) ?? 1) - 1);
    }
    this.cancelBeforeRun.delete(jobId);
    this.needsCache.delete(jobId);
    this.runKeyCache.delete(jobId);
    if (result.finished) this.bus.publish({ type: 'job.finished', job: result.finished });
    if (w) this.registry.idle(worker);
    if (result.next && w && next) this.dispatch(w, result.next, next.needs);
    else this.pump();
  }

  /** Applies the failure rules; true when the job went back to the queue instead of failing. */
  private async retriedAfterFailure(
    worker: string,
    jobId: string,
    patch: FinishPatch,
    attempt?: number,
  ): Promise<boolean> {
    const job = await this.store.get(jobId);
    if (job?.status !== 'in_progress' || job.worker !== worker || !patch.error) return false;
    if (attempt !== undefined && job.attempts !== attempt) return false;
    const failure = classifyFailure(patch.error);
    const needs = this.needsFor(job);
    const health = await this.noteHealth(worker, () =>
      this.registry.recordFailure(worker, failure, needs.workflowKey),
    );
    if (health && this.registry.isQuarantined(worker))
      this.log.warn(
        { worker, until: health.quarantinedUntil },
        `worker ${worker} quarantined after ${health.streak} failures in a row: ${patch.error.message}`,
      );
    if (failure === 'workflow') return false;
    const maxRetries = this.opts.maxRetries ?? 2;
    if (failure === 'worker' && job.retries >= maxRetries) {
      patch.error = {
        ...patch.error,
        message: `${patch.error.message} (failed on ${job.retries + 1} workers)`,
      };
      return false;
    }
    const back =
      failure === 'worker'
        ? await this.store.retry(jobId, patch.error, worker, attempt)
        : await this.store.release(jobId, patch.error, worker, attempt);
    if (!back) return false;
    this.handed.delete(jobId);
    const reason = `${failure === 'worker' ? 'worker failure' : 'infrastructure'} on ${worker}: ${patch.error.message}`;
    this.log.warn({ job: jobId, worker, retries: back.retries }, `job back in the queue after a ${reason}`);
    this.bus.publish({ type: 'job.released', job: back, reason });
    this.registry.idle(worker);
    this.pump();
    return true;
  }

  /** A change to a worker's failure record; its own failure is logged, never the job's. */
  private async noteHealth<T>(worker: string, change: () => Promise<T>): Promise<T | null> {
    try {
      return await change();
    } catch (err) {
      // Safe: the record only steers routing; the job's own outcome is written next and retried on failure.
      this.log.error({ err, worker }, `recording the health of ${worker} failed: ${errMessage(err)}`);
      return null;
    }
  }

  /** The first pending job in run order that this worker can take now, for the finish-and-claim commit. */
  private async nextFor(w: WorkerPort): Promise<{ job: Job; needs: JobNeeds } | null> {
    if (this.roomOf(w.id) <= 0) return null;
    const [me] = this.registry.snapshots(
      [{ id: w.id, online: w.state === 'online', freeSlots: w.freeSlots }],
      (x) => this.roomOf(x.id),
    );
    if (me?.state !== 'online' || me.freeSlots <= 0) return null;
    const others = this.registry.snapshots(
      this.liveWorkers().filter((x) => x.id !== w.id),
      () => 1,
    );
    const lookahead = 2 * (others.length + 1);
    const pending = await this.store.listPending(this.windowFor(lookahead));
    if (this.withheld(pending).has(w.id)) return null;
    const candidates = pending
      .filter((job) => !this.holds.has(job.id))
      .map((job) => ({ job, needs: this.needsFor(job) }));
    if (this.opts.noModelAffinity)
      return candidates.find((c) => rankWorkers(c.needs, [me]).length > 0) ?? null;
    return pickNext(me, others, candidates, lookahead);
  }

  /**
   * How many pending jobs to read for `wanted` placements: past the held-back
   * ones, with some slack, and as many as the earliest-finish layout looks at.
   * Reading only what a pass can use keeps a finish's cost flat however long
   * the queue is.
   */
  private windowFor(wanted: number): number {
    const online = this.liveWorkers().filter((w) => w.online).length;
    const plan = online >= 2 ? this.planWindow(online) : 0;
    return Math.min(ROUTING_WINDOW, Math.max(plan, wanted + this.holds.size + WINDOW_SLACK));
  }

  /** Jobs the earliest-finish rule lays out: a few per online worker. */
  private planWindow(online: number): number {
    return Math.min(PLAN_WINDOW, Math.max(16, 8 * online));
  }

  /** Whether `worker` holds the job under the claim whose token is `attempt` (a read; the store's write fences). */
  private async heldUnder(worker: string, jobId: string, attempt: number): Promise<boolean> {
    const job = await this.store.get(jobId);
    return job?.status === 'in_progress' && job.worker === worker && job.attempts === attempt;
  }

  async withdrawn(
    worker: string,
    jobId: string,
    reason = 'taken back: the queue order changed',
    attempt?: number,
  ): Promise<void> {
    const job = await this.store.release(jobId, null, worker, attempt);
    if (job) this.handed.delete(jobId);
    if (job) this.bus.publish({ type: 'job.released', job, reason });
    this.pump();
  }

  async lost(worker: string, jobId: string, reason: string, attempt?: number): Promise<void> {
    const current = await this.store.get(jobId);
    if (current?.status !== 'in_progress' || current.worker !== worker) return;
    if (attempt !== undefined && current.attempts !== attempt) return; // an earlier claim's report
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
        current.attempts,
      );
      if (job) this.handed.delete(jobId);
      if (job) this.bus.publish({ type: 'job.finished', job });
      return;
    }
    const job = await this.store.release(
      jobId,
      { type: 'worker_lost', message: reason },
      worker,
      current.attempts,
    );
    if (job) this.handed.delete(jobId);
    if (job) this.bus.publish({ type: 'job.released', job, reason });
    this.pump();
  }

  stateChanged(worker: string, state: WorkerState, detail?: string): void {
    this.bus.publish({ type: 'worker.state', worker, state, detail });
    if (state === 'online') this.pump();
  }

  frame(worker: string, jobId: string | null, frame: WorkerFrame): void {
    if (jobId && frame.kind === 'text' && frame.message.type === 'execution_start') {
      const h = this.handed.get(jobId);
      if (h) h.runStart = this.opts.now();
    }
    for (const l of this.frameListeners) l(worker, jobId, frame);
  }

  idle(_worker: string): void {
    this.pump();
  }
}

export type { EnqueueInput, PromptGraph };
