/**
 * The JobStore on PostgreSQL (`pg`, a pool), for several comfy-queue servers
 * on one database. Every method runs on the pool: a single statement in
 * autocommit (its promise resolves on ReadyForQuery, after the commit), or
 * one transaction on one client. Writes about one job (or setting, or
 * worker) are chained so that they commit in the order they were asked;
 * others run side by side. Enqueue group-commits. A refused or dropped
 * connection, a lock wait past the busy timeout or a full disk rejects the
 * write (health.ts) and never reports it done.
 */
import type pg from 'pg';
import type { FinishedBucket } from '../../domain/batch-throughput.js';
import type { Job, JobError, JobStatus, NewJob } from '../../domain/job.js';
import type { Logger } from '../../logging/logger.js';
import { errMessage, silentLogger } from '../../logging/logger.js';
import type {
  BatchCounts,
  BatchItemPage,
  BatchItemQuery,
  BatchPatch,
  BatchRecord,
  MinuteCount,
  NewBatch,
  RerunSelection,
} from '../batch-types.js';
import type { JobPage, JobQuery } from '../job-query.js';
import type {
  AgentEnrollment,
  CollectionRecord,
  EnqueueResult,
  FinishPatch,
  JobStore,
  NewThumbnail,
  PendingCursor,
  QueueCounts,
  StoreHealth,
  Thumbnail,
  ThumbnailTotals,
  WorkerRecord,
  WorkerTotals,
} from '../job-store.js';
import { toJson } from '../sqlite/job-row.js';
import * as agents from './agents.js';
import * as batches from './batches.js';
import * as collections from './collections.js';
import { connectSession, createPool, redactUrl } from './connection.js';
import { type EnqueueCall, writeEnqueueBatch } from './enqueue.js';
import { batchGroup, frontTag, ownerGroup, successorTag, take } from './fair-share.js';
import { SerialGroupCommit } from './group-commit.js';
import { degradedBy, StoreHealthTracker } from './health.js';
import { type PgJobRow, pgInsertParams, pgRowToJob, wordsOf } from './job-row.js';
import { Lanes } from './lanes.js';
import * as listing from './list-jobs.js';
import { LOCK_SPACE, migrate } from './migrate.js';
import { placePending } from './place-pending.js';
import { lockQueueOrder } from './placement.js';
import { type Queryable, rowsOf } from './queryable.js';
import { SQL } from './statements.js';
import * as thumbs from './thumbnails.js';
import * as workers from './workers.js';

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  /** the schema of the store's tables (default `comfy_queue`); created when missing */
  schema?: string;
  /** pool size (default 10) */
  poolSize?: number;
  /** how long a write waits for another session's lock before STORE_BUSY, in ms (default 5000) */
  busyTimeoutMs?: number;
  /** how often a store that cannot write tries again by itself, in ms (default 1000) */
  probeMs?: number;
  /** where the store says that writing stopped and resumed */
  log?: Logger;
  /** shown in pg_stat_activity (default `comfy-queue`) */
  applicationName?: string;
  /** text matches up to which a history page sorts the matches instead of walking the sort index (tests) */
  fewTextMatches?: number;
}

/** The database cannot be opened: not reachable, or in use by another server. */
export class DatabaseOpenError extends Error {
  override name = 'DatabaseOpenError';
}

export const DEFAULT_SCHEMA = 'comfy_queue';

function finishParams(patch: FinishPatch): unknown[] {
  return [
    patch.status,
    patch.endedAt,
    patch.outputs !== undefined,
    toJson(patch.outputs),
    patch.error !== undefined,
    toJson(patch.error),
  ];
}

export class PostgresJobStore implements JobStore {
  private pool: pg.Pool | null = null;
  private readonly schema: string;
  private readonly busyTimeoutMs: number;
  private readonly log: Logger;
  private readonly tracker: StoreHealthTracker;
  private readonly lanes = new Lanes();
  private readonly parts = new batches.BatchParts();
  private readonly group = new SerialGroupCommit<EnqueueCall, EnqueueResult[]>((calls) =>
    this.tx((c) => writeEnqueueBatch(c, calls, this.schema)),
  );
  private probeTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: PostgresStoreOptions) {
    this.schema = options.schema ?? DEFAULT_SCHEMA;
    this.busyTimeoutMs = Math.max(1, Math.trunc(options.busyTimeoutMs ?? 5000));
    this.log = options.log ?? silentLogger;
    this.tracker = new StoreHealthTracker(redactUrl(options.url), this.busyTimeoutMs, Date.now, this.log);
  }

  async init(): Promise<void> {
    if (this.pool) return;
    const pool = createPool({
      url: this.options.url,
      schema: this.schema,
      max: this.options.poolSize ?? 10,
      busyTimeoutMs: this.busyTimeoutMs,
      applicationName: this.options.applicationName ?? 'comfy-queue',
    });
    // An idle connection the server dropped: the pool forgets it; the next query opens another.
    pool.on('error', (err) =>
      this.log.warn({ err: errMessage(err) }, 'an idle database connection was lost'),
    );
    try {
      const client = await pool.connect();
      try {
        await migrate(client, this.schema);
      } finally {
        client.release();
      }
    } catch (err) {
      await pool.end();
      if (degradedBy(err) !== 'unavailable') throw err;
      throw new DatabaseOpenError(
        `cannot reach the database at ${redactUrl(this.options.url)}: ${errMessage(err)}`,
        { cause: err },
      );
    }
    this.pool = pool;
  }

  async close(): Promise<void> {
    if (!this.pool) return;
    await this.group.idle(); // enqueues already asked are written, not dropped
    await this.lanes.idle();
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = null;
    const pool = this.pool;
    this.pool = null;
    await pool.end();
  }

  health(): StoreHealth {
    return this.tracker.health();
  }

  /** Rows as Jobs, a batch's item with its graph derived from its batch (read first when not kept). */
  private async all(rows: readonly PgJobRow[]): Promise<Job[]> {
    await this.read((db) => this.parts.load(db, rows));
    return rows.map((r) => pgRowToJob(r, this.parts.resolver));
  }

  private async one(rows: readonly PgJobRow[]): Promise<Job | null> {
    return (await this.all(rows.slice(0, 1)))[0] ?? null;
  }

  private get db(): pg.Pool {
    if (!this.pool) throw new Error('PostgresJobStore is not open (call init() first)');
    return this.pool;
  }

  /** A read on the pool; a lost connection answers STORE_UNAVAILABLE. */
  private async read<T>(fn: (db: Queryable) => Promise<T>): Promise<T> {
    const db = this.db;
    try {
      return await fn(db);
    } catch (err) {
      throw this.failed(err);
    }
  }

  /** A write of one statement (autocommit), in the lane of `key` when given. */
  private write<T>(key: string | null, fn: (db: Queryable) => Promise<T>): Promise<T> {
    const db = this.db;
    const run = async () => {
      try {
        const out = await fn(db);
        this.tracker.succeeded();
        return out;
      } catch (err) {
        throw this.failed(err);
      }
    };
    return key === null ? run() : this.lanes.run(key, run);
  }

  /**
   * A client of its own for several statements. While it is out of the pool, an error the
   * connection emits (the server ended it) is the running statement's to report, not a crash.
   */
  private async checkout(): Promise<{ client: pg.PoolClient; done: (broken?: Error) => void }> {
    let client: pg.PoolClient;
    try {
      client = await this.db.connect();
    } catch (err) {
      throw this.failed(err);
    }
    const onError = (err: Error) =>
      this.log.debug({ err: errMessage(err) }, 'a busy database connection was lost');
    client.on('error', onError);
    return {
      client,
      done: (broken?: Error) => {
        client.off('error', onError);
        client.release(broken);
      },
    };
  }

  /** A session outside the pool for an advisory lock; `end` closes it (and so releases its locks). */
  private async session(purpose: string): Promise<{ client: pg.Client; end: () => Promise<void> }> {
    let client: pg.Client;
    try {
      client = await connectSession({
        url: this.options.url,
        schema: this.schema,
        busyTimeoutMs: this.busyTimeoutMs,
        applicationName: this.options.applicationName ?? 'comfy-queue',
      });
    } catch (err) {
      throw this.failed(err);
    }
    const onError = (err: Error) =>
      this.log.warn(
        { err: errMessage(err), purpose },
        `the database session holding the ${purpose} lock was lost`,
      );
    client.on('error', onError);
    return {
      client,
      end: async () => {
        try {
          await client.end();
        } catch (err) {
          this.log.debug({ err: errMessage(err), purpose }, 'closing a lost session');
        }
        client.off('error', onError);
      },
    };
  }

  /** A write of several statements: one transaction on one client, resolved after COMMIT. */
  private async tx<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const { client, done } = await this.checkout();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      this.tracker.succeeded();
      return out;
    } catch (err) {
      // A connection the server ended must not go back to the pool, whatever ROLLBACK answers.
      if (degradedBy(err) === 'unavailable') broken = err as Error;
      else
        try {
          await client.query('ROLLBACK');
        } catch (rollbackErr) {
          // The connection is gone: the server rolled back; the pool must not hand this client out again.
          broken = rollbackErr as Error;
          this.log.debug({ err: errMessage(rollbackErr) }, 'rollback on a lost connection');
        }
      throw this.failed(err);
    } finally {
      done(broken);
    }
  }

  private txIn<T>(key: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.lanes.run(key, () => this.tx(fn));
  }

  /** Notes what an error says about the database; while writes fail, a probe retries on a timer. */
  private failed(err: unknown): unknown {
    const out = this.tracker.failed(err);
    if (!this.tracker.ok && !this.probeTimer && this.pool) {
      const probe = () => {
        this.probeTimer = null;
        if (!this.pool || this.tracker.ok) return;
        this.write(null, (db) => db.query(SQL.setSetting, ['store_probe', String(Date.now())])).then(
          () => undefined,
          (probeErr: unknown) => {
            this.log.debug({ err: errMessage(probeErr) }, 'the database still refuses writes');
          },
        );
      };
      this.probeTimer = setTimeout(probe, this.options.probeMs ?? 1000);
      this.probeTimer.unref();
    }
    return out;
  }

  async enqueue(jobs: NewJob[], opts: { allOrNothing?: boolean } = {}): Promise<EnqueueResult[]> {
    void this.db; // fail fast when closed, before joining a batch
    // Serialize here, so a job that cannot be encoded fails its own call only.
    const calls = jobs.map((job) => ({ job, params: pgInsertParams(job) }));
    if (calls.length === 0) return [];
    return this.group.submit({ jobs: calls, allOrNothing: opts.allOrNothing === true });
  }

  async get(id: string): Promise<Job | null> {
    return this.one(await this.read((db) => rowsOf<PgJobRow>(db, SQL.get, [id])));
  }

  async getMany(ids: readonly string[]): Promise<Job[]> {
    if (ids.length === 0) return [];
    return this.all(await this.read((db) => rowsOf<PgJobRow>(db, SQL.getMany, [ids])));
  }

  async listPending(limit: number, offset = 0): Promise<Job[]> {
    return this.all(await this.read((db) => rowsOf<PgJobRow>(db, SQL.listPending, [limit, offset])));
  }

  async scanPending(limit: number, after: PendingCursor | null = null): Promise<Job[]> {
    const from = after ?? { createdAt: Number.MIN_SAFE_INTEGER, id: '' };
    return this.all(
      await this.read((db) => rowsOf<PgJobRow>(db, SQL.scanPending, [limit, from.createdAt, from.id])),
    );
  }

  async listInProgress(): Promise<Job[]> {
    return this.all(await this.read((db) => rowsOf<PgJobRow>(db, SQL.listInProgress)));
  }

  async counts(): Promise<QueueCounts> {
    const out: QueueCounts = { pending: 0, in_progress: 0, completed: 0, failed: 0, cancelled: 0 };
    const rows = await this.read((db) => rowsOf<{ status: JobStatus; n: number }>(db, SQL.counts));
    for (const { status, n } of rows) out[status] = n;
    return out;
  }

  async claimNext(
    worker: string,
    now: number,
    leaseUntil: number,
    exclude: readonly string[] = [],
  ): Promise<Job | null> {
    return this.one(
      await this.write(null, (db) => rowsOf<PgJobRow>(db, SQL.claimNext, [worker, now, leaseUntil, exclude])),
    );
  }

  async claimJob(id: string, worker: string, now: number, leaseUntil: number): Promise<Job | null> {
    return this.one(
      await this.write(`job:${id}`, (db) =>
        rowsOf<PgJobRow>(db, SQL.claimJob, [worker, now, leaseUntil, id]),
      ),
    );
  }

  async renewLeases(worker: string, ids: readonly string[], leaseUntil: number): Promise<void> {
    if (ids.length === 0) return;
    await this.write(null, (db) => db.query(SQL.renewLeases, [worker, ids, leaseUntil]));
  }

  async finish(
    id: string,
    patch: FinishPatch,
    expectedWorker?: string,
    expectedAttempt?: number,
  ): Promise<Job | null> {
    return this.one(
      await this.write(`job:${id}`, (db) =>
        rowsOf<PgJobRow>(db, SQL.finish, [
          id,
          ...finishParams(patch),
          expectedWorker ?? null,
          expectedAttempt ?? null,
        ]),
      ),
    );
  }

  async finishAndClaim(
    id: string,
    patch: FinishPatch,
    worker: string,
    claim: { now: number; leaseUntil: number; jobId?: string } | null,
    expectedAttempt?: number,
  ): Promise<{ finished: Job | null; next: Job | null }> {
    const finish = [id, ...finishParams(patch), worker, expectedAttempt ?? null];
    if (!claim) return { finished: await this.finish(id, patch, worker, expectedAttempt), next: null };
    const rows = await this.txIn(`job:${id}`, async (c) => {
      const finished = await rowsOf<PgJobRow>(c, SQL.finish, finish);
      const next =
        claim.jobId !== undefined
          ? await rowsOf<PgJobRow>(c, SQL.claimJob, [worker, claim.now, claim.leaseUntil, claim.jobId])
          : await rowsOf<PgJobRow>(c, SQL.claimNext, [worker, claim.now, claim.leaseUntil, []]);
      return { finished, next };
    });
    return { finished: await this.one(rows.finished), next: await this.one(rows.next) };
  }

  async finishPending(id: string, patch: FinishPatch): Promise<Job | null> {
    if (patch.status === 'completed') throw new TypeError('finishPending: a pending job cannot complete');
    return this.one(
      await this.write(`job:${id}`, (db) =>
        rowsOf<PgJobRow>(db, SQL.finishPending, [id, ...finishParams(patch)]),
      ),
    );
  }

  async release(
    id: string,
    error?: JobError | null,
    expectedWorker?: string,
    expectedAttempt?: number,
  ): Promise<Job | null> {
    return this.one(
      await this.write(`job:${id}`, (db) =>
        rowsOf<PgJobRow>(db, SQL.release, [
          id,
          error !== undefined,
          toJson(error),
          expectedWorker ?? null,
          expectedAttempt ?? null,
        ]),
      ),
    );
  }

  async retry(
    id: string,
    error: JobError,
    expectedWorker: string,
    expectedAttempt?: number,
  ): Promise<Job | null> {
    return this.one(
      await this.write(`job:${id}`, (db) =>
        rowsOf<PgJobRow>(db, SQL.retry, [id, expectedWorker, expectedAttempt ?? null, JSON.stringify(error)]),
      ),
    );
  }

  async reorder(ids: readonly string[]): Promise<number> {
    const wanted = [...new Set(ids)];
    if (wanted.length === 0) return 0;
    return this.tx(async (c) => {
      await lockQueueOrder(c, this.schema);
      const places = new Map(
        (await rowsOf<{ id: string; priority: number }>(c, SQL.pendingPlaces, [wanted])).map((r) => [
          r.id,
          r.priority,
        ]),
      );
      // Listed pending jobs grouped by priority, in the order given.
      const groups = new Map<number, string[]>();
      for (const id of wanted) {
        const priority = places.get(id);
        if (priority === undefined) continue;
        const group = groups.get(priority);
        if (group) group.push(id);
        else groups.set(priority, [id]);
      }
      let moved = 0;
      for (const [priority, group] of groups) {
        // Below the first queued job of that priority: min − n … min − 1.
        const [first] = await rowsOf<{ position: number }>(c, SQL.firstQueuedPosition, [priority]);
        const min = first!.position;
        const tag = await frontTag(c, priority);
        await c.query(SQL.setPositions, [group, group.map((_, i) => min - group.length + i), tag]);
        moved += group.length;
      }
      return moved;
    });
  }

  async setPriority(id: string, priority: number): Promise<Job | null> {
    const rows = await this.txIn(`job:${id}`, async (c) => {
      // Its fair-share tag among its new peers keeps its group's plain order: the tag of the group's
      // next job there (position decides the tie), or a new one after the group's last.
      const [row] = await rowsOf<PgJobRow>(c, SQL.pendingRow, [id]);
      if (!row) return [];
      const grp = row.batch_id != null ? batchGroup(row.batch_id) : ownerGroup(row.owner);
      const tag = (await successorTag(c, row, priority)) ?? (await take(c, grp, priority, 1, 1));
      return rowsOf<PgJobRow>(c, SQL.setPriority, [id, priority, tag]);
    });
    return this.one(rows);
  }

  async rename(id: string, name: string | null): Promise<Job | null> {
    return this.txIn(`job:${id}`, async (c) => {
      const job = await this.one(await rowsOf<PgJobRow>(c, SQL.rename, [id, name]));
      if (job) await c.query(SQL.setWords, [id, wordsOf(job)]);
      return job;
    });
  }

  async setFlagged(id: string, flagged: boolean): Promise<Job | null> {
    return this.one(
      await this.write(`job:${id}`, (db) => rowsOf<PgJobRow>(db, SQL.setFlagged, [id, flagged])),
    );
  }

  async delete(ids: readonly string[], statuses: readonly JobStatus[]): Promise<string[]> {
    if (ids.length === 0 || statuses.length === 0) return [];
    return this.write(null, async (db) =>
      (await rowsOf<{ id: string }>(db, SQL.delete, [ids, statuses])).map((r) => r.id),
    );
  }

  async listJobs(query: JobQuery): Promise<JobPage> {
    return this.read((db) => listing.listJobs(db, query, this.options.fewTextMatches));
  }

  async workerForFile(type: string, subfolder: string, filename: string): Promise<string | null> {
    return this.read((db) => listing.workerForFile(db, type, subfolder, filename));
  }

  async jobForFile(type: string, subfolder: string, filename: string): Promise<string | null> {
    return this.read((db) => listing.jobForFile(db, type, subfolder, filename));
  }

  async getThumbnail(jobId: string): Promise<Thumbnail | null> {
    return this.read((db) => thumbs.getThumbnail(db, jobId));
  }

  async withThumbnails(jobIds: readonly string[]): Promise<Set<string>> {
    return this.read((db) => thumbs.withThumbnails(db, jobIds));
  }

  async putThumbnail(jobId: string, thumb: NewThumbnail): Promise<boolean> {
    return this.write(`thumb:${jobId}`, async (db) => {
      try {
        return await thumbs.putThumbnail(db, jobId, thumb);
      } catch (err) {
        // foreign_key_violation: the job was deleted between the check and the insert.
        if ((err as { code?: string }).code === '23503') return false;
        throw err;
      }
    });
  }

  async thumbnailTotals(): Promise<ThumbnailTotals> {
    return this.read((db) => thumbs.thumbnailTotals(db));
  }

  async deleteOldestThumbnails(limit: number): Promise<number> {
    return this.write(null, (db) => thumbs.deleteOldestThumbnails(db, limit));
  }

  async listWorkers(): Promise<WorkerRecord[]> {
    return this.read((db) => workers.listWorkers(db));
  }

  async saveWorker(worker: WorkerRecord): Promise<void> {
    await this.write(`worker:${worker.id}`, (db) => workers.saveWorker(db, worker));
  }

  async deleteWorker(id: string): Promise<boolean> {
    return this.write(`worker:${id}`, (db) => workers.deleteWorker(db, id));
  }

  async workerTotals(since: number): Promise<WorkerTotals[]> {
    return this.read((db) => workers.workerTotals(db, since));
  }

  async getSetting(key: string): Promise<string | null> {
    return this.read(
      async (db) => (await rowsOf<{ value: string }>(db, SQL.getSetting, [key]))[0]?.value ?? null,
    );
  }

  async setSetting(key: string, value: string): Promise<void> {
    await this.write(`setting:${key}`, (db) => db.query(SQL.setSetting, [key, value]));
  }

  async runExclusive<T>(name: string, fn: () => Promise<T>): Promise<T | null> {
    const { client, end } = await this.session(`sweep ${name}`);
    try {
      const [got] = await rowsOf<{ ok: boolean }>(
        client,
        'SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok',
        [LOCK_SPACE, `sweep:${this.schema}:${name}`],
      ).catch((err: unknown) => {
        throw this.failed(err);
      });
      if (!got?.ok) return null;
      return await fn();
    } finally {
      // Ending the session releases the lock.
      await end();
    }
  }

  // ---- batches and the render tracker (batches.ts) ----

  async createBatch(batch: NewBatch): Promise<BatchRecord> {
    return this.tx((c) => batches.createBatch(c, batch));
  }
  async getBatch(id: number): Promise<BatchRecord | null> {
    return this.read((db) => batches.getBatch(db, id));
  }
  async listBatches(): Promise<BatchRecord[]> {
    return this.read((db) => batches.listBatches(db));
  }
  async batchCounts(id: number): Promise<BatchCounts> {
    return this.read((db) => batches.batchCounts(db, id));
  }
  async batchFinishedSince(id: number, since: number): Promise<number> {
    return this.read((db) => batches.finishedSince(db, id, since));
  }
  async batchFinishedBuckets(id: number, from: number, bucketMs: number): Promise<FinishedBucket[]> {
    return this.read((db) => batches.finishedBuckets(db, id, from, bucketMs));
  }
  async setBatchPaused(id: number, paused: boolean): Promise<number | null> {
    const n = await this.txIn(`batch:${id}`, (c) => batches.setPaused(c, id, paused));
    return n < 0 ? null : n;
  }
  async cancelBatchPending(id: number, now: number): Promise<number> {
    return this.write(`batch:${id}`, (db) => batches.cancelPending(db, id, now));
  }
  async batchJobIds(id: number, status: 'pending' | 'in_progress'): Promise<string[]> {
    return this.read((db) => batches.idsWithStatus(db, id, status));
  }
  async updateBatch(id: number, patch: BatchPatch): Promise<BatchRecord | null> {
    const out = await this.txIn(`batch:${id}`, (c) => batches.updateBatch(c, id, patch));
    this.parts.drop(id);
    return out;
  }
  forgetBatch(id: number): void {
    this.parts.drop(id);
  }
  async deleteBatch(id: number): Promise<'deleted' | 'running' | 'missing'> {
    const out = await this.txIn(`batch:${id}`, (c) => batches.deleteBatch(c, id));
    this.parts.drop(id);
    return out;
  }
  async batchItem(id: number, index: number): Promise<Job | null> {
    return this.one(await this.read((db) => batches.batchItem(db, id, index)));
  }
  async rerunBatchItems(id: number, which: RerunSelection, now: number, newId: () => string): Promise<Job[]> {
    return this.all(await this.txIn(`batch:${id}`, (c) => batches.rerun(c, id, which, now, newId)));
  }
  async listBatchItems(query: BatchItemQuery): Promise<BatchItemPage> {
    const { rows, more } = await this.read((db) => batches.items(db, query));
    const last = rows[rows.length - 1];
    return {
      jobs: await this.all(rows),
      next: more && last ? { batchId: last.batch_id!, index: last.batch_index! } : null,
    };
  }
  async setDone(jobId: string, done: boolean): Promise<Job | null> {
    return this.one(await this.write(`job:${jobId}`, (db) => batches.setDone(db, jobId, done)));
  }
  async trackerCounts(): Promise<BatchCounts> {
    return this.read((db) => batches.trackerCounts(db));
  }
  async finishedPerMinute(since: number): Promise<MinuteCount[]> {
    return this.read((db) => batches.perMinute(db, since));
  }

  // ---- output collection (collections.ts) ----

  async listUncollected(
    since: number,
    after: { endedAt: number; id: string } | null,
    limit: number,
  ): Promise<Job[]> {
    return this.all(await this.read((db) => collections.listUncollected(db, since, after, limit)));
  }

  async getCollections(jobIds: readonly string[]): Promise<CollectionRecord[]> {
    return this.read((db) => collections.getCollections(db, jobIds));
  }

  async saveCollection(record: CollectionRecord): Promise<boolean> {
    return this.write(`collect:${record.jobId}`, (db) => collections.saveCollection(db, record));
  }

  // ---- queue moves (place-pending.ts) ----

  async placePending(
    placements: readonly { id: string; priority: number; fair: number; position: number }[],
  ): Promise<number> {
    if (placements.length === 0) return 0;
    return this.tx(async (c) => {
      await lockQueueOrder(c, this.schema);
      return placePending(c, placements);
    });
  }

  // ---- remote agents (agents.ts) ----

  async saveEnrollment(enrollment: AgentEnrollment): Promise<void> {
    await this.write('enrollments', (db) => agents.saveEnrollment(db, enrollment));
  }

  async listEnrollments(): Promise<AgentEnrollment[]> {
    return this.read((db) => agents.listEnrollments(db));
  }

  async redeemEnrollment(
    tokenHash: string,
    agent: string,
    credentialHash: string,
    now: number,
  ): Promise<AgentEnrollment | null> {
    return this.write('enrollments', (db) =>
      agents.redeemEnrollment(db, tokenHash, agent, credentialHash, now),
    );
  }

  async enrollmentForCredential(credentialHash: string): Promise<AgentEnrollment | null> {
    return this.read((db) => agents.enrollmentForCredential(db, credentialHash));
  }
}
