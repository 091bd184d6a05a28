/**
 * Collects completed jobs' output files into the collect folder or bucket.
 *
 * Durable without a write on the hot path: a completed job is in the store
 * before anyone hears of it, and it counts as collected only once its
 * collection record says `stored`. So a job that completed just before a
 * crash (kill -9 between the finish and the transfer) is found again at
 * start-up by `listUncollected`, and copied again if the crash came after the
 * copy but before the record (same key: the copy is replaced, never doubled).
 * A periodic sweep of the recent past catches anything else.
 *
 * Failures: when the folder or bucket fails (S3 down, a full disk) every
 * transfer waits, with a backoff doubling up to `backoff.maxMs`, and one job
 * tries again; the first success lets the rest go. When a file cannot be
 * fetched from its worker, that job alone waits; a file the worker no longer
 * has fails the job's collection after `missingTries` tries. Every failure is
 * logged and recorded on the job (`pending` with its error, or `failed`).
 */
import type { Job } from '../domain/job.js';
import type { EventBus } from '../engine/events.js';
import { errMessage, type Logger } from '../logging/logger.js';
import type { CollectedFile, CollectionRecord, JobStore } from '../store/job-store.js';
import { type BackoffRules, DEFAULT_BACKOFF, retryDelay } from './backoff.js';
import type { KeyJob } from './collect-key.js';
import { copyJobFiles, StageError } from './copy-files.js';
import { type FileSource, MissingFileError } from './file-source.js';
import type { OutputTarget } from './output-target.js';

/** The setting that holds when collection began: jobs that completed earlier are not collected. */
export const COLLECT_SINCE_KEY = 'collect.since';

export interface CollectorOptions {
  target: OutputTarget;
  source: FileSource;
  now(): number;
  /** in [0, 1): the jitter of the backoff */
  random(): number;
  log: Logger;
  /** transfers at once (default 4) */
  concurrency?: number;
  backoff?: BackoffRules;
  /** tries after which a file its worker no longer has fails the job's collection (default 3) */
  missingTries?: number;
  /** how often the recent past is swept for completed jobs not heard of (default 60 s) */
  sweepMs?: number;
  /**
   * Several servers share the store (src/cluster): the periodic sweep runs on
   * one server at a time and leaves jobs that ended less than this long ago to
   * the server that ran them, which collects them itself (default 0).
   */
  sweepGraceMs?: number;
  /** the batch name and index of a job that is an item of a batch (the key names the item) */
  keyJob?(job: Job): KeyJob;
}

interface Task {
  jobId: string;
  endedAt: number;
  /** tries of this job that failed (its record's attempts) */
  failures: number;
}

const PAGE = 1000;
/** how long closing waits for the transfers under way */
const CLOSE_WAIT_MS = 10_000;
/** how far back of the previous sweep each periodic sweep starts */
const SWEEP_OVERLAP_MS = 10 * 60_000;

export class OutputCollector {
  private readonly ready = new Map<string, Task>();
  /** every job queued, running or waiting for a retry */
  private readonly known = new Map<string, Task>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private running = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private targetFailures = 0;
  private targetTimer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private lastSweepAt = 0;
  private closed = false;
  private unsubscribe: (() => void) | null = null;
  private idleWaiters: (() => void)[] = [];
  /** when collection began (jobs that completed earlier are not collected) */
  since = 0;
  stored = 0;
  failed = 0;

  constructor(
    private readonly store: JobStore,
    private readonly bus: EventBus,
    private readonly opts: CollectorOptions,
  ) {}

  get target(): OutputTarget {
    return this.opts.target;
  }

  /** Collects what is left from before and follows jobs as they complete (the target is ready). */
  async start(): Promise<void> {
    const kept = await this.store.getSetting(COLLECT_SINCE_KEY);
    this.since = kept !== null && Number.isFinite(Number(kept)) ? Number(kept) : this.opts.now();
    if (kept === null) await this.store.setSetting(COLLECT_SINCE_KEY, String(this.since));
    this.unsubscribe = this.bus.subscribe((e) => {
      if (e.type === 'job.finished') this.request(e.job);
    });
    await this.sweep(this.since, this.opts.now() - (this.opts.sweepGraceMs ?? 0));
    const every = this.opts.sweepMs ?? 60_000;
    this.sweepTimer = setInterval(() => {
      const from = Math.max(this.since, this.lastSweepAt - SWEEP_OVERLAP_MS);
      void this.store
        .runExclusive('collect-sweep', () =>
          this.sweep(from, this.opts.now() - (this.opts.sweepGraceMs ?? 0)),
        )
        .catch((err) =>
          this.opts.log.error({ err }, `the sweep for uncollected outputs failed: ${errMessage(err)}`),
        );
    }, every);
    this.sweepTimer.unref();
  }

  /** Queues a job that completed; false when there is nothing to do. */
  request(job: Pick<Job, 'id' | 'status' | 'endedAt'>, failures = 0): boolean {
    if (this.closed || job.status !== 'completed' || job.endedAt === null) return false;
    if (job.endedAt < this.since) return false;
    const queued = this.known.get(job.id);
    if (queued) {
      // Run again while an earlier completion waits: the task now collects the latest one.
      if (queued.endedAt !== job.endedAt) Object.assign(queued, { endedAt: job.endedAt, failures: 0 });
      return false;
    }
    const task = { jobId: job.id, endedAt: job.endedAt, failures };
    this.known.set(job.id, task);
    this.ready.set(job.id, task);
    this.drain();
    return true;
  }

  /** Queues every completed job since `from` that is not collected (start-up, and now and then). */
  private async sweep(from: number, until = Number.POSITIVE_INFINITY): Promise<void> {
    this.lastSweepAt = Math.min(this.opts.now(), until);
    let after: { endedAt: number; id: string } | null = null;
    for (;;) {
      if (this.closed) return;
      const page = await this.store.listUncollected(from, after, PAGE);
      if (page.length === 0) return;
      const records = new Map(
        (await this.store.getCollections(page.map((j) => j.id))).map((r) => [r.jobId, r]),
      );
      for (const job of page) {
        if (job.endedAt! > until) return; // pages come in end order: the rest is newer still
        const rec = records.get(job.id);
        this.request(job, rec && rec.endedAt === job.endedAt ? rec.attempts : 0);
      }
      const last = page[page.length - 1]!;
      after = { endedAt: last.endedAt!, id: last.id };
    }
  }

  /** Resolves once nothing is queued, running or waiting for a retry. */
  idle(): Promise<void> {
    if (this.known.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops taking work and waits for the transfers under way (their records are written). */
  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe?.();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.targetTimer) clearTimeout(this.targetTimer);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.ready.clear();
    // A transfer that hangs (a worker or bucket that does not answer) does not hold the shutdown up:
    // what it leaves unrecorded is taken up by the start-up sweep of the next run.
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_WAIT_MS);
    });
    await Promise.race([Promise.allSettled([...this.inFlight]), limit]);
    clearTimeout(timer);
  }

  private drain(): void {
    const max = Math.max(1, this.opts.concurrency ?? 4);
    // While the target fails, one transfer at a time finds out whether it is back.
    const limit = this.targetFailures > 0 ? 1 : max;
    while (!this.closed && !this.targetTimer && this.running < limit && this.ready.size > 0) {
      const [id, task] = this.ready.entries().next().value as [string, Task];
      this.ready.delete(id);
      this.running++;
      const p = this.transfer(task).finally(() => {
        this.running--;
        this.inFlight.delete(p);
        this.drain();
        this.checkIdle();
      });
      this.inFlight.add(p);
    }
  }

  private checkIdle(): void {
    if (this.known.size > 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** The transfer of completion `endedAt` is over; a later completion of the job goes again. */
  private done(task: Task, endedAt: number): void {
    if (task.endedAt !== endedAt && !this.closed) {
      this.ready.set(task.jobId, task);
      return;
    }
    this.known.delete(task.jobId);
  }

  private async transfer(task: Task): Promise<void> {
    const endedAt = task.endedAt;
    let job: Job | null;
    try {
      job = await this.store.get(task.jobId);
    } catch (err) {
      this.opts.log.error({ job: task.jobId, err }, `cannot read a job to collect: ${errMessage(err)}`);
      this.retryLater(task);
      return;
    }
    // Deleted, or run again since: the newer completion is requested by its own event.
    if (job?.status !== 'completed' || job.endedAt !== endedAt) return this.done(task, endedAt);
    let files: CollectedFile[];
    try {
      files = await copyJobFiles(job, this.opts.source, this.opts.target, this.opts.keyJob?.(job) ?? job);
    } catch (err) {
      await this.onFailure(
        task,
        endedAt,
        job,
        err instanceof StageError ? err : new StageError('source', err),
      );
      return;
    }
    try {
      const saved = await this.store.saveCollection(
        this.record(task.jobId, endedAt, 'stored', files, task.failures, null),
      );
      if (saved) {
        this.stored++;
        this.publish(task.jobId, 'stored', files, null);
      }
      this.targetFailures = 0;
      this.done(task, endedAt);
    } catch (err) {
      if (this.closed) return this.interrupted(task, err);
      this.opts.log.error({ job: task.jobId, err }, `collected outputs not recorded: ${errMessage(err)}`);
      this.retryLater(task);
    }
  }

  /** A transfer cut short by the shutdown: not a failure of the job; the next start takes it up. */
  private interrupted(task: Task, err: unknown): void {
    this.opts.log.info({ job: task.jobId }, `collection interrupted by the shutdown (${errMessage(err)})`);
  }

  private async onFailure(task: Task, endedAt: number, job: Job, err: StageError): Promise<void> {
    if (this.closed) return this.interrupted(task, err);
    task.failures++;
    const message = err.message;
    const missing = err.stage === 'source' && err.error instanceof MissingFileError;
    const giveUp = missing && task.failures >= (this.opts.missingTries ?? 3);
    const state = giveUp ? 'failed' : 'pending';
    try {
      const saved = await this.store.saveCollection(
        this.record(task.jobId, endedAt, state, [], task.failures, message),
      );
      if (saved && giveUp) this.publish(task.jobId, 'failed', [], message);
    } catch (saveErr) {
      this.opts.log.error(
        { job: job.id, err: saveErr },
        `collection failure not recorded: ${errMessage(saveErr)}`,
      );
    }
    if (giveUp) {
      this.failed++;
      this.opts.log.error(
        { job: job.id, worker: job.worker, tries: task.failures },
        `outputs not collected, given up: ${message}`,
      );
      this.done(task, endedAt);
      return;
    }
    if (err.stage === 'target') {
      // The job goes first when the target is tried again.
      const rest = [...this.ready.entries()];
      this.ready.clear();
      this.ready.set(task.jobId, task);
      for (const [id, t] of rest) this.ready.set(id, t);
      // Transfers that were under way together fail together: one wait for all of them.
      if (this.targetTimer) return;
      this.targetFailures++;
      const wait = retryDelay(this.targetFailures, this.backoff, this.opts.random());
      this.opts.log.warn(
        { job: job.id, target: this.opts.target.name, retryInMs: wait },
        `cannot store outputs in ${this.opts.target.name}: ${message}`,
      );
      this.targetTimer = setTimeout(() => {
        this.targetTimer = null;
        this.drain();
      }, wait);
      return;
    }
    this.opts.log.warn(
      { job: job.id, worker: job.worker, tries: task.failures },
      `outputs not fetched: ${message}`,
    );
    this.retryLater(task);
  }

  private retryLater(task: Task): void {
    if (this.closed) return;
    const wait = retryDelay(Math.max(1, task.failures), this.backoff, this.opts.random());
    const timer = setTimeout(() => {
      this.timers.delete(task.jobId);
      this.ready.set(task.jobId, task);
      this.drain();
    }, wait);
    this.timers.set(task.jobId, timer);
  }

  private publish(
    jobId: string,
    state: 'stored' | 'failed',
    files: CollectedFile[],
    error: string | null,
  ): void {
    this.bus.publish({
      type: 'job.collected',
      jobId,
      state,
      files: files.map((f) => ({ key: f.key, bytes: f.bytes })),
      error,
    });
  }

  private get backoff(): BackoffRules {
    return this.opts.backoff ?? DEFAULT_BACKOFF;
  }

  private record(
    jobId: string,
    endedAt: number,
    state: CollectionRecord['state'],
    files: CollectedFile[],
    attempts: number,
    error: string | null,
  ): CollectionRecord {
    return {
      jobId,
      endedAt,
      state,
      target: this.opts.target.name,
      files,
      attempts,
      error,
      updatedAt: this.opts.now(),
    };
  }
}
