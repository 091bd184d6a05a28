/**
 * History retention: everything is kept unless a limit is configured
 * (`--keep-jobs`, `--keep-days`, `--keep-thumbs-mb`). A background pass, every
 * `intervalMs` and once at start, deletes the oldest finished jobs beyond
 * the count, those older than the age, and the oldest thumbnails beyond the
 * storage limit (those jobs keep their history and get the placeholder), in
 * batches with a turn of the event loop between them.
 */
import { FINISHED_STATUSES } from '../domain/job.js';
import { errMessage, type Logger, silentLogger } from '../logging/logger.js';
import type { JobStore } from '../store/job-store.js';
import type { EventBus } from './events.js';
import { deleteHistoryBatch, PRUNE_BATCH } from './history-prune.js';

export interface RetentionLimits {
  /** finished jobs kept, newest first; null = no limit */
  keepJobs: number | null;
  /** finished jobs kept for this many days after they were created; null = no limit */
  keepDays: number | null;
  /** thumbnail storage kept, in MiB; null = no limit */
  keepThumbsMb: number | null;
}

export const NO_RETENTION: RetentionLimits = { keepJobs: null, keepDays: null, keepThumbsMb: null };

export function hasRetention(l: RetentionLimits): boolean {
  return l.keepJobs !== null || l.keepDays !== null || l.keepThumbsMb !== null;
}

const DAY_MS = 86_400_000;
const yieldTurn = () => new Promise((resolve) => setImmediate(resolve));

export class Retention {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly store: JobStore,
    private readonly bus: EventBus,
    private readonly limits: RetentionLimits,
    private readonly now: () => number,
    private readonly log: Logger = silentLogger,
    private readonly intervalMs = 60_000,
  ) {}

  start(): void {
    if (!hasRetention(this.limits)) return;
    void this.runOnce();
    this.timer = setInterval(() => void this.runOnce(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One pass (a pass already under way is joined, not doubled). */
  runOnce(): Promise<void> {
    // One server at a time on a shared database: a pass already under way elsewhere is skipped.
    this.running ??= this.store
      .runExclusive('retention', () => this.pass())
      .then(() => undefined)
      .catch((err) => {
        // Safe: nothing half-done stays (each batch is one transaction); the next pass tries again.
        if (!this.stopped) this.log.error({ err }, `history retention pass failed: ${errMessage(err)}`);
      })
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  private async pass(): Promise<void> {
    const { keepJobs, keepDays, keepThumbsMb } = this.limits;
    if (keepDays !== null) {
      const until = this.now() - keepDays * DAY_MS;
      while (!this.stopped) {
        const ids = await deleteHistoryBatch(this.store, this.bus, {
          until,
          sort: 'created_at',
          order: 'asc',
        });
        if (ids.length < PRUNE_BATCH) break;
        await yieldTurn();
      }
    }
    if (keepJobs !== null) {
      while (!this.stopped) {
        const counts = await this.store.counts();
        const finished = FINISHED_STATUSES.reduce((n, s) => n + counts[s], 0);
        const excess = finished - keepJobs;
        if (excess <= 0) break;
        const ids = await deleteHistoryBatch(
          this.store,
          this.bus,
          { sort: 'created_at', order: 'asc' },
          Math.min(excess, PRUNE_BATCH),
        );
        if (ids.length === 0) break;
        await yieldTurn();
      }
    }
    if (keepThumbsMb !== null) {
      const limit = keepThumbsMb * 1024 * 1024;
      while (!this.stopped) {
        const totals = await this.store.thumbnailTotals();
        if (totals.bytes <= limit || totals.count === 0) break;
        // Delete about as many as the excess holds, at the average size, within one batch.
        const avg = totals.bytes / totals.count;
        const n = Math.min(PRUNE_BATCH, Math.max(1, Math.ceil((totals.bytes - limit) / avg)));
        if ((await this.store.deleteOldestThumbnails(n)) === 0) break;
        await yieldTurn();
      }
    }
  }
}
