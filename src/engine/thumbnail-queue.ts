/**
 * Makes history thumbnails off the request path: when a job finishes with an
 * image output, its preview file is fetched from the worker that holds it
 * and shrunk into the store's thumbnails table, one or two at a time. The
 * store write of one goes on while the next is made (a few at most), so that
 * a commit's wait does not hold the images up, and those writes share commits.
 * A failure (the file is gone, garbage, the worker away) leaves the job
 * without a thumbnail — the placeholder is served — and never touches the job.
 */
import type { Job } from '../domain/job.js';
import { type OutputFileRef, thumbnailSource } from '../domain/thumbnail-source.js';
import { errMessage, type Logger } from '../logging/logger.js';
import type { JobStore } from '../store/job-store.js';
import type { EventBus } from './events.js';

export interface ThumbnailQueueOptions {
  /** the bytes of a file of a job, held by a worker */
  fetchFile(worker: string, file: OutputFileRef, jobId: string): Promise<Buffer>;
  /** bytes → a small PNG; rejects on bytes that are not an image */
  make(bytes: Buffer): Promise<{ png: Buffer; width: number; height: number }>;
  now(): number;
  /** thumbnails made at once (1–2: decoding is CPU work in this process) */
  concurrency?: number;
  /** jobs waiting beyond this many are dropped (they keep the placeholder until asked for again) */
  maxWaiting?: number;
  log?: Logger;
}

interface Task {
  jobId: string;
  worker: string;
  file: OutputFileRef;
}

const FAILED_MEMORY = 10_000;
/** Thumbnails made and waiting for their store write at most; beyond, making waits. */
const MAX_WRITING = 8;

export class ThumbnailQueue {
  private readonly waiting = new Map<string, Task>();
  private running = 0;
  private writing = 0;
  private readonly idleWaiters: (() => void)[] = [];
  /** jobs whose thumbnail could not be made, so that a request for it does not fetch again and again */
  private readonly failed = new Set<string>();
  private closed = false;
  private readonly unsubscribe: () => void;
  made = 0;
  failures = 0;

  constructor(
    private readonly store: JobStore,
    bus: EventBus,
    private readonly opts: ThumbnailQueueOptions,
  ) {
    this.unsubscribe = bus.subscribe((e) => {
      if (e.type === 'job.finished') this.request(e.job);
    });
  }

  /** Queues a thumbnail for a finished job with an image output; false when there is nothing to make. */
  request(job: Pick<Job, 'id' | 'worker' | 'outputs'>): boolean {
    if (this.closed || !job.worker || this.failed.has(job.id) || this.waiting.has(job.id)) return false;
    const file = thumbnailSource(job.outputs);
    if (!file) return false;
    if (this.waiting.size >= (this.opts.maxWaiting ?? 10_000)) return false;
    this.waiting.set(job.id, { jobId: job.id, worker: job.worker, file });
    this.drain();
    return true;
  }

  /** Resolves once nothing is waiting or being made. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    this.waiting.clear();
    this.unsubscribe();
  }

  private drain(): void {
    const max = Math.max(1, this.opts.concurrency ?? 1);
    while (this.running < max && this.writing < MAX_WRITING && this.waiting.size > 0) {
      const [id, task] = this.waiting.entries().next().value as [string, Task];
      this.waiting.delete(id);
      this.running++;
      void this.makeOne(task).finally(() => {
        this.running--;
        this.settled();
      });
    }
  }

  private isIdle(): boolean {
    return this.waiting.size === 0 && this.running === 0 && this.writing === 0;
  }

  /** A thumbnail was made or written: start the next, and wake idle() when nothing is left. */
  private settled(): void {
    this.drain();
    if (this.isIdle()) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Fetches and shrinks the image; its store write goes on after this resolves (write). */
  private async makeOne(task: Task): Promise<void> {
    let image: { png: Buffer; width: number; height: number };
    try {
      const bytes = await this.opts.fetchFile(task.worker, task.file, task.jobId);
      image = await this.opts.make(bytes);
    } catch (err) {
      this.failedOne(task, err);
      return;
    }
    if (this.closed) return;
    this.writing++;
    this.store
      .putThumbnail(task.jobId, { ...image, createdAt: this.opts.now() })
      .then(
        () => {
          this.made++;
        },
        (err) => this.failedOne(task, err),
      )
      .finally(() => {
        this.writing--;
        this.settled();
      });
  }

  private failedOne(task: Task, err: unknown): void {
    // Safe: the job keeps the placeholder thumbnail; nothing else depends on it.
    this.opts.log?.warn(
      { job: task.jobId, worker: task.worker, err },
      `thumbnail not made: ${errMessage(err)}`,
    );
    this.failures++;
    this.failed.add(task.jobId);
    if (this.failed.size > FAILED_MEMORY) this.failed.delete(this.failed.values().next().value as string);
  }
}
