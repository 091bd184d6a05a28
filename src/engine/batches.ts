/**
 * Batch commands over the engine: create, pause, resume, cancel, re-run
 * failed or flagged items, change, delete, and the progress figures. Each
 * change is committed in the store before it is announced; the scheduler is
 * woken when work appears.
 */
import { type BatchRequest, BatchSpecError, batchNameProblem, buildBatchSpec } from '../domain/batch-spec.js';
import {
  type FinishedBucket,
  fillBuckets,
  type ThroughputSpan,
  type ThroughputWindow,
  throughputWindow,
} from '../domain/batch-throughput.js';
import { QueueError } from '../domain/errors.js';
import { itemIds } from '../domain/ids.js';
import type { Job, PromptGraph } from '../domain/job.js';
import { errMessage, type Logger, silentLogger } from '../logging/logger.js';
import { tallyBatchCounts } from '../store/batch-counts.js';
import {
  type BatchCounts,
  type BatchPatch,
  type BatchRecord,
  countsWithCollection,
  type RerunSelection,
} from '../store/batch-types.js';
import type { Engine } from './engine.js';

export interface BatchServiceOptions {
  now: () => number;
  /** random bytes (the item ids' prefix and a random batch's seed base) */
  randomBytes: (n: number) => Uint8Array;
  newId: () => string;
  /** whether finished items' outputs are collected (an item is `working` to the tracker until they are) */
  collecting?: boolean;
  log?: Logger;
}

export interface NewBatchInput extends BatchRequest {
  name: string;
  prompt: PromptGraph;
  workflow?: unknown;
  extraData?: Record<string, unknown>;
  priority?: number;
  weight?: number;
  requires?: string[];
  clientId?: string | null;
}

/** How a batch is doing: counts, pace and time to finish. */
export interface BatchProgress {
  batch: BatchRecord;
  counts: BatchCounts;
  /** items finished per minute over the last PACE_WINDOW_MS */
  perMinute: number;
  /** ms until the remaining items are done at that pace; null when unknown or nothing remains */
  etaMs: number | null;
}

/** A batch's finished items per bucket of time, every bucket of the window included. */
export interface BatchThroughput {
  batchId: number;
  span: ThroughputSpan;
  window: ThroughputWindow;
  buckets: FinishedBucket[];
}

/** The window over which a batch's pace is measured. */
export const PACE_WINDOW_MS = 10 * 60_000;

/** Up to this many jobs of one change are announced one by one; beyond, the dashboard re-reads. */
const ANNOUNCE_MAX = 1_000;

export class BatchService {
  private readonly log: Logger;

  constructor(
    private readonly engine: Engine,
    private readonly opts: BatchServiceOptions,
  ) {
    this.log = opts.log ?? silentLogger;
  }

  /** whether finished items' outputs are collected */
  get collecting(): boolean {
    return this.opts.collecting === true;
  }

  private get store() {
    return this.engine.store;
  }

  /** Stores the batch; resolves it as created (every item pending), without reading its items back. */
  async create(input: NewBatchInput): Promise<BatchProgress> {
    const nameProblem = batchNameProblem(input.name);
    if (nameProblem) throw new QueueError('INVALID_BATCH', `Invalid batch: ${nameProblem}.`);
    const now = this.opts.now();
    const seedBytes = this.opts.randomBytes(6);
    const randomBase = seedBytes.reduce((n, b) => n * 256 + b, 0);
    let spec: ReturnType<typeof buildBatchSpec>;
    try {
      spec = buildBatchSpec(input, input.prompt, randomBase);
    } catch (err) {
      if (err instanceof BatchSpecError)
        throw new QueueError('INVALID_BATCH', `Invalid batch: ${err.message}.`);
      throw err;
    }
    const workflow = input.workflow ?? null;
    const extraData: Record<string, unknown> = { ...(input.extraData ?? {}) };
    if (workflow !== null) {
      const pnginfo = extraData.extra_pnginfo;
      extraData.extra_pnginfo = { ...(isObject(pnginfo) ? pnginfo : {}), workflow };
    }
    const batch = await this.store.createBatch({
      name: input.name,
      template: input.prompt,
      workflow,
      extraData,
      spec,
      priority: input.priority ?? 0,
      weight: input.weight ?? 1,
      requires: input.requires ?? [],
      clientId: input.clientId ?? null,
      createdAt: now,
      ids: itemIds(now, this.opts.randomBytes(9)),
    });
    this.log.info({ batch: batch.id, items: batch.total }, `batch ${batch.name} queued`);
    this.changed(batch.id);
    this.engine.pump();
    const counts = tallyBatchCounts([
      { status: 'pending', flagged: false, tracker: null, stored: false, n: batch.total },
    ]);
    return { batch, counts, perMinute: 0, etaMs: null };
  }

  async get(id: number): Promise<BatchRecord> {
    const b = await this.store.getBatch(id);
    if (!b) throw new QueueError('BATCH_NOT_FOUND', `No batch has the id ${id}.`);
    return b;
  }

  /** A batch by its id or its name (the latest of that name). */
  async find(ref: string): Promise<BatchRecord> {
    if (/^\d+$/.test(ref)) {
      const b = await this.store.getBatch(Number(ref));
      if (b) return b;
    }
    const named = (await this.store.listBatches()).filter((b) => b.name === ref);
    const b = named[named.length - 1];
    if (!b) throw new QueueError('BATCH_NOT_FOUND', `No batch has the id or name ${ref}.`);
    return b;
  }

  async list(): Promise<BatchProgress[]> {
    const batches = await this.store.listBatches();
    return Promise.all(batches.map((b) => this.progressOf(b)));
  }

  async progress(id: number): Promise<BatchProgress> {
    return this.progressOf(await this.get(id));
  }

  private async progressOf(batch: BatchRecord): Promise<BatchProgress> {
    const now = this.opts.now();
    const counts = countsWithCollection(await this.store.batchCounts(batch.id), this.collecting);
    const since = Math.max(batch.createdAt, now - PACE_WINDOW_MS);
    const finished = await this.store.batchFinishedSince(batch.id, since);
    const minutes = Math.max(now - since, 1_000) / 60_000;
    const perMinute = finished / minutes;
    const remaining = counts.pending + counts.in_progress;
    const etaMs = remaining > 0 && perMinute > 0 ? Math.round((remaining / perMinute) * 60_000) : null;
    return { batch, counts, perMinute, etaMs };
  }

  async pause(id: number): Promise<BatchRecord> {
    if ((await this.store.setBatchPaused(id, true)) === null)
      throw new QueueError('BATCH_NOT_FOUND', `No batch has the id ${id}.`);
    this.changed(id);
    return this.get(id);
  }

  async resume(id: number): Promise<BatchRecord> {
    if ((await this.store.setBatchPaused(id, false)) === null)
      throw new QueueError('BATCH_NOT_FOUND', `No batch has the id ${id}.`);
    this.changed(id);
    this.engine.pump();
    return this.get(id);
  }

  /** Cancels the pending items at once and interrupts the running ones. */
  async cancel(id: number): Promise<{ cancelled: number; interrupted: number }> {
    await this.get(id);
    const cancelled = await this.store.cancelBatchPending(id, this.opts.now());
    // Pending items are cancelled in the store without an event each.
    this.changed(id);
    const running = await this.store.batchJobIds(id, 'in_progress');
    for (const jobId of running) {
      try {
        await this.engine.cancel(jobId);
      } catch (err) {
        // It finished meanwhile: nothing left to cancel.
        if (!(err instanceof QueueError)) throw err;
        this.log.debug({ job: jobId }, `cancel of a batch item skipped: ${errMessage(err)}`);
      }
    }
    return { cancelled, interrupted: running.length };
  }

  /** Finished items (failed, flagged or listed) run again as new jobs; the earlier runs stay in history. */
  async rerun(id: number, which: RerunSelection): Promise<Job[]> {
    await this.get(id);
    const jobs = await this.store.rerunBatchItems(id, which, this.opts.now(), this.opts.newId);
    if (jobs.length <= ANNOUNCE_MAX)
      for (const job of jobs) this.engine.bus.publish({ type: 'job.queued', job });
    this.changed(id);
    this.engine.pump();
    return jobs;
  }

  async update(id: number, patch: BatchPatch): Promise<BatchRecord> {
    const b = await this.store.updateBatch(id, patch);
    if (!b) throw new QueueError('BATCH_NOT_FOUND', `No batch has the id ${id}.`);
    this.changed(id);
    this.engine.pump();
    return b;
  }

  async delete(id: number): Promise<void> {
    const r = await this.store.deleteBatch(id);
    if (r === 'missing') throw new QueueError('BATCH_NOT_FOUND', `No batch has the id ${id}.`);
    if (r === 'running')
      throw new QueueError('BATCH_RUNNING', `Batch ${id} has running jobs: cancel it first, then delete it.`);
    this.changed(id);
  }

  /** Items finished per bucket over the batch's life or the last hour (domain/batch-throughput.ts). */
  async throughput(id: number, span: ThroughputSpan): Promise<BatchThroughput> {
    const batch = await this.get(id);
    const window = throughputWindow(span, batch.createdAt, this.opts.now());
    const counted = await this.store.batchFinishedBuckets(id, window.from, window.bucketMs);
    return { batchId: id, span, window, buckets: fillBuckets(window, counted) };
  }

  private changed(id: number): void {
    this.engine.bus.publish({ type: 'batch.changed', id });
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}
