/**
 * The render tracker's worker protocol: a simple external worker (a script
 * that renders with its own ComfyUI) claims the next pending job with a
 * lease, exactly as a farm worker claims, and reports `working` (renews the
 * lease), `complete` (with an output URL or an uploaded file), `error`;
 * clients mark completed jobs `done`, flag them for a re-render and reset
 * them. A claim whose lease ends without a report goes back to the queue (the
 * sweeper), unless a farm worker of this server holds it (the engine renews
 * those). A restart keeps external claims: each holds until its lease ends,
 * and its holder's reports count meanwhile.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { QueueError } from '../domain/errors.js';
import { isCanonicalUuid } from '../domain/ids.js';
import type { Job } from '../domain/job.js';
import { errMessage, type Logger, silentLogger } from '../logging/logger.js';
import type { BatchService } from './batches.js';
import type { Engine } from './engine.js';

export interface TrackerOptions {
  now: () => number;
  /** how long an external claim holds without a report */
  leaseMs: number;
  /** where uploaded outputs are stored: `<dir>/<batch name>/<index>.<ext>` (`<dir>/<job id>.<ext>` for a single job) */
  filesDir: string;
  /** how often expired external claims are looked for (default: a quarter of the lease, at least 200 ms) */
  sweepMs?: number;
  log?: Logger;
}

/** What an external worker reports. */
export interface TrackerReport {
  status: 'working' | 'complete' | 'done' | 'error' | 'inactive';
  /** the claimer's name, checked against the claim when given */
  worker?: string;
  /** where the output was uploaded (an S3 URL...) */
  outputUrl?: string;
  /** an output sent with the report */
  file?: { name: string; data: Buffer };
  message?: string;
}

/** The outputs entry of a job reported complete by an external worker. */
export interface ExternalOutput {
  /** path of the stored file under the tracker's files folder, if one was sent */
  file?: string;
  url?: string;
}

/** The external claimer's name when none is given. */
export const DEFAULT_EXTERNAL_WORKER = 'external';

export class TrackerService {
  private timer: NodeJS.Timeout | null = null;
  private readonly log: Logger;

  constructor(
    private readonly engine: Engine,
    private readonly batches: BatchService,
    private readonly opts: TrackerOptions,
  ) {
    this.log = opts.log ?? silentLogger;
  }

  start(): void {
    const every = this.opts.sweepMs ?? Math.max(200, Math.floor(this.opts.leaseMs / 4));
    this.timer = setInterval(() => {
      this.sweep().catch((err) =>
        this.log.error({ err }, `returning expired claims failed: ${errMessage(err)}`),
      );
    }, every);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private get store() {
    return this.engine.store;
  }

  /** A job by its id, or an item by `<batch id or name>:<index>`. */
  async resolve(ref: string): Promise<Job> {
    if (ref.length === 36 && isCanonicalUuid(ref as unknown)) return this.engine.getOrThrow(ref);
    const at = ref.lastIndexOf(':');
    const index = Number(ref.slice(at + 1));
    if (at <= 0 || !Number.isInteger(index) || index < 1)
      throw new QueueError('INVALID_ID', 'Give a job id (a UUID) or <batch>:<index>.');
    const batch = await this.batches.find(ref.slice(0, at));
    const job = await this.store.batchItem(batch.id, index);
    if (!job) throw new QueueError('JOB_NOT_FOUND', `Batch ${batch.name} has no item ${index}.`);
    return job;
  }

  /** Claims the next pending job an external worker can run (one that requires no worker tags); null when none. */
  async nextJob(worker: string): Promise<Job | null> {
    // A registered farm worker not running now is refused too: a restart keeps external claims only.
    if (this.engine.workers.has(worker) || this.engine.registry.get(worker))
      throw new QueueError(
        'DUPLICATE_WORKER',
        `${worker} is a farm worker of this server; choose another name.`,
      );
    if (this.engine.isPaused) return null;
    // Clients asking at once read the same head: each that loses a job to another goes on down the
    // list instead of reading it again, so that every one of them gets a job while any is pending.
    for (let reads = 0; reads < 5; reads++) {
      const pending = await this.store.listPending(200);
      const open = pending.filter((j) => j.requires.length === 0 && !this.engine.holdOf(j.id));
      if (open.length === 0) return null;
      for (const job of open) {
        const now = this.opts.now();
        const claimed = await this.store.claimJob(job.id, worker, now, now + this.opts.leaseMs);
        if (claimed) {
          this.engine.bus.publish({ type: 'job.started', job: claimed });
          this.log.debug({ job: claimed.id, worker }, 'job claimed by an external worker');
          return claimed;
        }
        // Taken meanwhile, by another client or a farm worker: the next one.
      }
    }
    return null;
  }

  /** A job held by an external worker (not one of this server's farm workers). */
  private async claimedExternally(job: Job, worker?: string): Promise<string> {
    if (job.status !== 'in_progress' || !job.worker || this.engine.workers.has(job.worker))
      throw new QueueError('NOT_CLAIMED', `Job ${job.id} is ${job.status}, not held by an external worker.`);
    if (worker !== undefined && worker !== job.worker)
      throw new QueueError('NOT_CLAIMED', `Job ${job.id} is held by ${job.worker}, not ${worker}.`);
    return job.worker;
  }

  async report(ref: string, r: TrackerReport): Promise<Job> {
    const job = await this.resolve(ref);
    switch (r.status) {
      case 'working': {
        const holder = await this.claimedExternally(job, r.worker);
        await this.store.renewLeases(holder, [job.id], this.opts.now() + this.opts.leaseMs);
        return (await this.store.get(job.id)) ?? job;
      }
      case 'complete': {
        const holder = await this.claimedExternally(job, r.worker);
        const output: ExternalOutput = {};
        if (r.file) output.file = await this.storeFile(job, r.file);
        if (r.outputUrl) output.url = r.outputUrl;
        return this.finish(job, holder, {
          status: 'completed',
          endedAt: this.opts.now(),
          outputs: { external: { files: [output] } },
        });
      }
      case 'error': {
        const holder = await this.claimedExternally(job, r.worker);
        return this.finish(job, holder, {
          status: 'failed',
          endedAt: this.opts.now(),
          error: { type: 'external_error', message: r.message ?? `Reported failed by ${holder}` },
        });
      }
      case 'done': {
        const done = await this.store.setDone(job.id, true);
        if (!done) throw new QueueError('NOT_COMPLETED', `Job ${job.id} is ${job.status}, not completed.`);
        this.engine.bus.publish({ type: 'job.updated', job: done });
        return done;
      }
      case 'inactive':
        return this.reset(ref);
    }
  }

  private async finish(
    job: Job,
    holder: string,
    patch: Parameters<Engine['store']['finish']>[1],
  ): Promise<Job> {
    const done = await this.store.finish(job.id, patch, holder, job.attempts);
    if (!done) throw new QueueError('NOT_CLAIMED', `Job ${job.id} is no longer held by ${holder}.`);
    this.engine.bus.publish({ type: 'job.finished', job: done });
    return done;
  }

  /** Writes an uploaded output where the item's name says, atomically (a temporary name, then a rename). */
  private async storeFile(job: Job, file: { name: string; data: Buffer }): Promise<string> {
    const ext =
      extname(file.name)
        .toLowerCase()
        .replace(/[^.a-z0-9]/g, '') || '.bin';
    const rel = job.batch?.name ? join(job.batch.name, `${job.batch.index}${ext}`) : `${job.id}${ext}`;
    const path = join(this.opts.filesDir, rel);
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(`${path}.partial`, file.data);
    await rename(`${path}.partial`, path);
    return rel;
  }

  /** Flags a finished job for a re-render (at once with `rerender`), or clears the flag. */
  async flag(ref: string, opts: { flagged?: boolean; rerender?: boolean } = {}): Promise<Job> {
    const job = await this.resolve(ref);
    const flagged = await this.engine.setFlagged(job.id, opts.flagged ?? true);
    if (opts.rerender && flagged.flagged) return this.reset(ref);
    return flagged;
  }

  /**
   * Back to `inactive`: a finished job runs again as a new job (a batch's item
   * keeps its index; the earlier run stays in history with its outputs); an
   * external claim is given back; a pending job stays as it is.
   */
  async reset(ref: string): Promise<Job> {
    const job = await this.resolve(ref);
    if (job.status === 'pending') return job;
    if (job.status === 'in_progress') {
      const holder = await this.claimedExternally(job);
      const back = await this.store.release(job.id, null, holder, job.attempts);
      if (!back) throw new QueueError('NOT_CLAIMED', `Job ${job.id} is no longer held by ${holder}.`);
      this.engine.bus.publish({ type: 'job.released', job: back, reason: 'reset' });
      this.engine.pump();
      return back;
    }
    if (job.batch?.current) {
      const [again] = await this.batches.rerun(job.batch.id, { kind: 'jobs', ids: [job.id] });
      if (!again) throw new QueueError('NOT_FINISHED', `Job ${job.id} cannot run again now.`);
      return again;
    }
    return this.engine.requeue(job.id);
  }

  /** Gives back external claims whose lease ended; resolves how many. */
  async sweep(): Promise<number> {
    const now = this.opts.now();
    let n = 0;
    for (const job of await this.store.listInProgress()) {
      if (!job.worker || this.engine.workers.has(job.worker)) continue;
      if (job.leaseUntil === null || job.leaseUntil > now) continue;
      const back = await this.store.release(
        job.id,
        { type: 'lease_expired', message: `${job.worker} did not report within its lease` },
        job.worker,
        job.attempts,
      );
      if (!back) continue;
      n++;
      this.log.warn({ job: job.id, worker: job.worker }, 'external claim expired: job back in the queue');
      this.engine.bus.publish({ type: 'job.released', job: back, reason: 'lease expired' });
    }
    if (n > 0) this.engine.pump();
    return n;
  }
}
