/**
 * The embedded JobStore on SQLite (better-sqlite3). One connection per store;
 * WAL so readers never wait for the writer; synchronous=FULL by default so an
 * acknowledged commit survives power loss, not only a crash of this process.
 * The driver is synchronous: each method does its work at once and hands the
 * result back as a promise, except enqueue, which group-commits. Every write
 * is a checked transaction of the write gate (write-gate.ts): no result of a
 * write leaves here before its COMMIT has succeeded.
 */
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { FinishedBucket } from '../../domain/batch-throughput.js';
import type { Job, JobError, JobStatus, NewJob } from '../../domain/job.js';
import { jobSearchText } from '../../domain/search-text.js';
import type { Logger } from '../../logging/logger.js';
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
import { SqliteAgents } from './agents.js';
import { BatchParts, SqliteBatches } from './batches.js';
import { SqliteCollections } from './collections.js';
import { batchGroup, FairShare, ownerGroup } from './fair-share.js';
import { GroupCommit } from './group-commit.js';
import { type InsertParams, insertParams, type JobRow, newJobAsStored, rowToJob, toJson } from './job-row.js';
import { SqliteJobLister } from './list-jobs.js';
import { migrate } from './migrate.js';
import { ParsedJson } from './parsed-json.js';
import { preparePlacement } from './place-pending.js';
import { SearchIndex } from './search-index.js';
import { prepareStatements, type Statements } from './statements.js';
import { SqliteThumbnails } from './thumbnails.js';
import { SqliteWorkers } from './workers.js';
import { WriteGate } from './write-gate.js';

export interface SqliteStoreOptions {
  /** path of the database file (its folder must exist), or ':memory:' */
  file: string;
  /** FULL (default): fsync on every commit. NORMAL: a power cut may lose the last commits. */
  synchronous?: 'FULL' | 'NORMAL';
  /** how long a write waits for another connection's lock before STORE_BUSY, in ms (default 5000) */
  busyTimeoutMs?: number;
  /** the connection's page cache, in KiB (default: the driver's, 16,000 KiB) */
  cacheKib?: number;
  /** how often a store that cannot write (full disk, lock) tries again by itself, in ms (default 1000) */
  probeMs?: number;
  /** where the store says that writing stopped (a full disk, a lock) and resumed */
  log?: Logger;
  /** text matches up to which a history page sorts the matches instead of walking the sort index (tests) */
  fewTextMatches?: number;
  /**
   * a read-only connection beside a writer that has opened (and migrated)
   * the database: reads only, no migrations, no write gate
   */
  readOnly?: boolean;
}

interface PendingInsert {
  job: NewJob;
  params: InsertParams;
  /** its history search text */
  text: string;
}

/** One enqueue call in a group-commit batch. */
interface EnqueueCall {
  jobs: PendingInsert[];
  allOrNothing: boolean;
}

export class SqliteJobStore implements JobStore {
  private db: Database.Database | null = null;
  private stmts: Statements | null = null;
  private lister: SqliteJobLister | null = null;
  private search: SearchIndex | null = null;
  private thumbs: SqliteThumbnails | null = null;
  private workerRows: SqliteWorkers | null = null;
  private fairShare: FairShare | null = null;
  private batchParts: BatchParts | null = null;
  private batchRows: SqliteBatches | null = null;
  private collectionRows: SqliteCollections | null = null;
  private agentRows: SqliteAgents | null = null;
  private gate: WriteGate | null = null;
  private callSavepoint: {
    begin: Database.Statement;
    undo: Database.Statement;
    end: Database.Statement;
  } | null = null;
  private readonly group = new GroupCommit<EnqueueCall, EnqueueResult[]>((calls) => this.writeBatch(calls));

  constructor(private readonly options: SqliteStoreOptions) {}

  async init(): Promise<void> {
    if (this.db) return;
    const readOnly = this.options.readOnly === true;
    const db = new Database(this.options.file, { readonly: readOnly });
    const busyTimeoutMs = Math.max(0, Math.trunc(this.options.busyTimeoutMs ?? 5000));
    try {
      // Opening may wait for another process's lock (nothing else runs yet)...
      db.pragma(`busy_timeout = ${busyTimeoutMs}`);
      if (this.options.cacheKib !== undefined)
        db.pragma(`cache_size = ${-Math.max(1, Math.trunc(this.options.cacheKib))}`);
      if (!readOnly) {
        db.pragma('journal_mode = WAL');
        db.pragma(`synchronous = ${this.options.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
        db.pragma('foreign_keys = ON');
        // Each write of a group runs in a savepoint, whose copies of the pages it changes
        // (the sub-journal) SQLite writes to a temporary file past 64 KiB: syscalls on every
        // page of a busy group. In memory instead (a group alone takes no savepoint, write-gate.ts).
        db.pragma('temp_store = MEMORY');
        migrate(db);
      }
      this.stmts = prepareStatements(db);
      this.lister = new SqliteJobLister(db, this.options.fewTextMatches);
      this.search = new SearchIndex(db);
      if (!readOnly) this.search.backfill();
      this.thumbs = new SqliteThumbnails(db);
      this.workerRows = new SqliteWorkers(db);
      this.fairShare = new FairShare(db);
      this.batchParts = new BatchParts(db);
      this.batchRows = new SqliteBatches(db, this.fairShare, this.batchParts);
      this.collectionRows = new SqliteCollections(db, this.toJob);
      this.agentRows = new SqliteAgents(db);
      // ...but once serving, a wait in SQLite would block the event loop: the gate waits instead.
      // A reader waits only for the rare moment a WAL reset holds it off, briefly.
      db.pragma(`busy_timeout = ${readOnly ? 50 : 0}`);
      if (!readOnly) {
        this.gate = new WriteGate(db, {
          busyTimeoutMs,
          dataDir: this.options.file === ':memory:' ? null : dirname(resolve(this.options.file)),
          probeMs: this.options.probeMs ?? 1000,
          now: Date.now,
          log: this.options.log,
        });
      }
      this.callSavepoint = {
        begin: db.prepare('SAVEPOINT enqueue_call'),
        undo: db.prepare('ROLLBACK TO enqueue_call'),
        end: db.prepare('RELEASE enqueue_call'),
      };
    } catch (err) {
      db.close();
      throw err;
    }
    this.db = db;
  }

  async close(): Promise<void> {
    if (!this.db) return;
    this.group.flush(); // enqueues of this turn are written, not dropped
    await this.gate?.close();
    this.gate = null;
    if (!this.db) return; // closed meanwhile
    this.db.close();
    this.db = null;
    this.stmts = null;
    this.lister = null;
    this.search = null;
    this.thumbs = null;
    this.collectionRows = null;
    this.placement = null;
  }

  /** A row as a Job, a batch's job with its graph derived from its batch. */
  private toJobOrNull(row: JobRow | undefined): Job | null {
    return row ? this.toJob(row) : null;
  }

  private readonly toJob = (row: JobRow): Job => rowToJob(row, this.batchParts?.resolver);
  /**
   * For the reads that come back to the same jobs (the queue's head, a job by
   * id): their JSON is parsed once (parsed-json.ts).
   */
  private readonly headJson = new ParsedJson();
  private readonly toJobReread = (row: JobRow): Job =>
    rowToJob(row, this.batchParts?.resolver, (key, text) => this.headJson.parse(key, text));

  private assertOpen(): void {
    if (!this.db) throw new Error('SqliteJobStore is not open (call init() first)');
  }

  private get s(): Statements {
    if (!this.stmts) throw new Error('SqliteJobStore is not open (call init() first)');
    return this.stmts;
  }

  private get workers(): SqliteWorkers {
    if (!this.workerRows) throw new Error('SqliteJobStore is not open (call init() first)');
    return this.workerRows;
  }

  /** Runs `fn` as one checked transaction (write-gate.ts); resolves once committed. */
  private write<T>(fn: () => T, opts?: { patient?: boolean }): Promise<T> {
    if (!this.gate) return Promise.reject(new Error('SqliteJobStore is not open (call init() first)'));
    return this.gate.run(fn, opts);
  }

  health(): StoreHealth {
    return this.gate?.health() ?? { state: 'ok', message: null, since: null };
  }

  async enqueue(jobs: NewJob[], opts: { allOrNothing?: boolean } = {}): Promise<EnqueueResult[]> {
    this.assertOpen(); // fail fast when closed, before joining a batch
    // Serialize here, so a job that cannot be encoded fails its own call only.
    const calls = jobs.map((job) => ({
      job,
      params: insertParams(job),
      text: jobSearchText(job.name, job.prompt),
    }));
    if (calls.length === 0) return [];
    return this.group.submit({ jobs: calls, allOrNothing: opts.allOrNothing === true });
  }

  /** One IMMEDIATE transaction for every enqueue call of this turn, in arrival order. */
  private writeBatch(calls: readonly EnqueueCall[]): Promise<EnqueueResult[][]> {
    const s = this.s;
    const search = this.search!;
    const savepoint = this.callSavepoint!;
    const fair = this.fairShare!;
    return this.write(() => {
      let next: number | null = null; // max(position)+1, read at most once per batch
      const append = () => {
        next ??= (s.maxPosition.get()?.m ?? 0) + 1;
        return next;
      };
      const insertOne = ({ job, params, text }: PendingInsert): EnqueueResult => {
        const first = job.front
          ? (s.minQueuedPosition.get({ priority: job.priority })?.position ?? null)
          : null;
        const front = first !== null;
        const position = job.position ?? (front ? first - 1 : append());
        if (s.get.get(job.id)) return { ok: false, code: 'DUPLICATE_ID', id: job.id };
        const tag = front
          ? fair.front(job.priority)
          : fair.take(ownerGroup(params.owner), job.priority, 1, 1);
        const inserted = s.insert.run({ ...params, position, fair: tag });
        if (inserted.changes === 0) {
          return { ok: false, code: 'DUPLICATE_ID', id: job.id };
        }
        search.add(inserted.lastInsertRowid, text);
        if (!front && job.position == null) next = position + 1;
        return { ok: true, job: newJobAsStored(job, position, tag) };
      };
      return calls.map((call) => {
        if (!call.allOrNothing) return call.jobs.map(insertOne);
        // A savepoint per call, so a refused call leaves the rest of the batch alone.
        savepoint.begin.run();
        const results = call.jobs.map(insertOne);
        if (results.every((r) => r.ok)) {
          savepoint.end.run();
          return results;
        }
        savepoint.undo.run();
        savepoint.end.run();
        return results.map(
          (r): EnqueueResult =>
            r.ok ? { ok: false, code: 'NOT_STORED', id: r.job.id } : { ok: false, code: r.code, id: r.id },
        );
      });
    });
  }

  async get(id: string): Promise<Job | null> {
    const row = this.s.get.get(id);
    return row ? this.toJobReread(row) : null;
  }

  async listPending(limit: number, offset = 0): Promise<Job[]> {
    // A long list (ComfyUI's GET /queue shows up to 10,000) would only push the head out of the cache.
    const toJob = limit * 3 > this.headJson.capacity ? this.toJob : this.toJobReread; // three values a job
    return this.s.listPending.get(limit, offset).all().map(toJob);
  }

  async scanPending(limit: number, after: PendingCursor | null = null): Promise<Job[]> {
    const from = after ?? { createdAt: Number.MIN_SAFE_INTEGER, id: '' };
    return this.s.scanPending.all({ limit, created: from.createdAt, id: from.id }).map(this.toJob);
  }

  async listInProgress(): Promise<Job[]> {
    return this.s.listInProgress.all().map(this.toJob);
  }

  async counts(): Promise<QueueCounts> {
    const out: QueueCounts = { pending: 0, in_progress: 0, completed: 0, failed: 0, cancelled: 0 };
    for (const { status, n } of this.s.counts.all()) out[status] = n;
    return out;
  }

  async claimNext(
    worker: string,
    now: number,
    leaseUntil: number,
    exclude: readonly string[] = [],
  ): Promise<Job | null> {
    const s = this.s;
    return this.write(() =>
      this.toJobOrNull(s.claimNext.get({ worker, now, lease: leaseUntil, exclude: JSON.stringify(exclude) })),
    );
  }

  async renewLeases(worker: string, ids: readonly string[], leaseUntil: number): Promise<void> {
    if (ids.length === 0) return;
    const s = this.s;
    await this.write(() => s.renewLeases.run({ worker, ids: JSON.stringify(ids), lease: leaseUntil }));
  }

  async finish(
    id: string,
    patch: FinishPatch,
    expectedWorker?: string,
    expectedAttempt?: number,
  ): Promise<Job | null> {
    const s = this.s;
    return this.write(() =>
      this.toJobOrNull(
        s.finish.get({
          ...finishParams(id, patch),
          holder: expectedWorker ?? null,
          attempt: expectedAttempt ?? null,
        }),
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
    const s = this.s;
    return this.write(() => {
      const finished = this.toJobOrNull(
        s.finish.get({ ...finishParams(id, patch), holder: worker, attempt: expectedAttempt ?? null }),
      );
      const next = !claim
        ? null
        : claim.jobId !== undefined
          ? this.toJobOrNull(
              s.claimJob.get({ id: claim.jobId, worker, now: claim.now, lease: claim.leaseUntil }),
            )
          : this.toJobOrNull(
              s.claimNext.get({ worker, now: claim.now, lease: claim.leaseUntil, exclude: '[]' }),
            );
      return { finished, next };
    });
  }

  async claimJob(id: string, worker: string, now: number, leaseUntil: number): Promise<Job | null> {
    const s = this.s;
    return this.write(() => this.toJobOrNull(s.claimJob.get({ id, worker, now, lease: leaseUntil })));
  }

  async retry(
    id: string,
    error: JobError,
    expectedWorker: string,
    expectedAttempt?: number,
  ): Promise<Job | null> {
    const s = this.s;
    return this.write(() =>
      this.toJobOrNull(
        s.retry.get({
          id,
          holder: expectedWorker,
          attempt: expectedAttempt ?? null,
          error: JSON.stringify(error),
        }),
      ),
    );
  }

  async listWorkers(): Promise<WorkerRecord[]> {
    return this.workers.list();
  }

  async saveWorker(worker: WorkerRecord): Promise<void> {
    const rows = this.workers;
    await this.write(() => rows.save(worker));
  }

  async deleteWorker(id: string): Promise<boolean> {
    const rows = this.workers;
    return this.write(() => rows.delete(id));
  }

  async workerTotals(since: number): Promise<WorkerTotals[]> {
    return this.workers.totals(since);
  }

  async finishPending(id: string, patch: FinishPatch): Promise<Job | null> {
    if (patch.status === 'completed') throw new TypeError('finishPending: a pending job cannot complete');
    const s = this.s;
    return this.write(() => this.toJobOrNull(s.finishPending.get(finishParams(id, patch))));
  }

  async release(
    id: string,
    error?: JobError | null,
    expectedWorker?: string,
    expectedAttempt?: number,
  ): Promise<Job | null> {
    const s = this.s;
    return this.write(() =>
      this.toJobOrNull(
        s.release.get({
          id,
          set_error: error === undefined ? 0 : 1,
          error: toJson(error),
          holder: expectedWorker ?? null,
          attempt: expectedAttempt ?? null,
        }),
      ),
    );
  }

  async reorder(ids: readonly string[]): Promise<number> {
    const s = this.s;
    const fair = this.fairShare!;
    return this.write(() => {
      // Listed pending jobs grouped by priority, in the order given.
      const groups = new Map<number, string[]>();
      for (const id of new Set(ids)) {
        const place = s.pendingPlace.get(id);
        if (!place) continue;
        const group = groups.get(place.priority);
        if (group) group.push(id);
        else groups.set(place.priority, [id]);
      }
      let moved = 0;
      for (const [priority, group] of groups) {
        // Below the first queued job of that priority: min − n … min − 1.
        const min = s.minQueuedPosition.get({ priority })!.position!;
        const tag = fair.front(priority);
        group.forEach((id, i) => {
          s.setPendingPosition.run(min - group.length + i, tag, id);
        });
        moved += group.length;
      }
      return moved;
    });
  }

  async setPriority(id: string, priority: number): Promise<Job | null> {
    const s = this.s;
    const fair = this.fairShare!;
    return this.write(() => {
      // Its fair-share tag among its new peers keeps its group's plain order: the tag of the group's
      // next job there (position decides the tie), or a new one after the group's last.
      const row = s.get.get(id);
      if (row?.status !== 'pending') return null;
      const grp = row.batch_id != null ? batchGroup(row.batch_id) : ownerGroup(row.owner);
      const next = fair.successor(row, priority);
      s.setPendingFair.run(next ?? fair.take(grp, priority, 1, 1), id);
      return this.toJobOrNull(s.setPriority.get(priority, id));
    });
  }

  async rename(id: string, name: string | null): Promise<Job | null> {
    const s = this.s;
    const search = this.search!;
    return this.write(() => {
      const job = this.toJobOrNull(s.rename.get(name, id));
      if (job) search.reindex(id);
      return job;
    });
  }

  async setFlagged(id: string, flagged: boolean): Promise<Job | null> {
    const s = this.s;
    return this.write(() => this.toJobOrNull(s.setFlagged.get(flagged ? 1 : 0, id)));
  }

  async delete(ids: readonly string[], statuses: readonly JobStatus[]): Promise<string[]> {
    if (ids.length === 0 || statuses.length === 0) return [];
    const s = this.s;
    return this.write(() => s.delete.all(JSON.stringify(ids), JSON.stringify(statuses)).map((r) => r.id));
  }

  async listJobs(query: JobQuery): Promise<JobPage> {
    if (!this.lister) throw new Error('SqliteJobStore is not open (call init() first)');
    return this.lister.list(query);
  }

  async workerForFile(type: string, subfolder: string, filename: string): Promise<string | null> {
    if (!this.lister) throw new Error('SqliteJobStore is not open (call init() first)');
    return this.lister.workerForFile(type, subfolder, filename);
  }

  private get thumbnails(): SqliteThumbnails {
    if (!this.thumbs) throw new Error('SqliteJobStore is not open (call init() first)');
    return this.thumbs;
  }

  async jobForFile(type: string, subfolder: string, filename: string): Promise<string | null> {
    if (!this.lister) throw new Error('SqliteJobStore is not open (call init() first)');
    return this.lister.jobForFile(type, subfolder, filename);
  }

  async getThumbnail(jobId: string): Promise<Thumbnail | null> {
    return this.thumbnails.get(jobId);
  }

  async withThumbnails(jobIds: readonly string[]): Promise<Set<string>> {
    return this.thumbnails.having(jobIds);
  }

  async putThumbnail(jobId: string, thumb: NewThumbnail): Promise<boolean> {
    const thumbs = this.thumbnails;
    return this.write(() => thumbs.put(jobId, thumb), { patient: true });
  }

  async thumbnailTotals(): Promise<ThumbnailTotals> {
    return this.thumbnails.totals();
  }

  async deleteOldestThumbnails(limit: number): Promise<number> {
    const thumbs = this.thumbnails;
    return this.write(() => thumbs.deleteOldest(limit));
  }

  async getSetting(key: string): Promise<string | null> {
    return this.s.getSetting.get(key)?.value ?? null;
  }

  async setSetting(key: string, value: string): Promise<void> {
    const s = this.s;
    await this.write(() => s.setSetting.run(key, value));
  }

  // ---- batches ----

  private get batches(): SqliteBatches {
    if (!this.batchRows) throw new Error('SqliteJobStore is not open (call init() first)');
    return this.batchRows;
  }

  async createBatch(batch: NewBatch): Promise<BatchRecord> {
    const b = this.batches;
    return this.write(() => b.create(batch));
  }

  async getBatch(id: number): Promise<BatchRecord | null> {
    return this.batches.get(id);
  }

  async listBatches(): Promise<BatchRecord[]> {
    return this.batches.list();
  }

  async batchCounts(id: number): Promise<BatchCounts> {
    return this.batches.counts(id);
  }

  async batchFinishedSince(id: number, since: number): Promise<number> {
    return this.batches.finishedSince(id, since);
  }

  async batchFinishedBuckets(id: number, from: number, bucketMs: number): Promise<FinishedBucket[]> {
    return this.batches.finishedBuckets(id, from, bucketMs);
  }

  async setBatchPaused(id: number, paused: boolean): Promise<number | null> {
    const b = this.batches;
    const n = await this.write(() => b.setPaused(id, paused));
    return n < 0 ? null : n;
  }

  async cancelBatchPending(id: number, now: number): Promise<number> {
    const b = this.batches;
    return this.write(() => b.cancelPending(id, now));
  }

  async batchJobIds(id: number, status: 'pending' | 'in_progress'): Promise<string[]> {
    return this.batches.idsWithStatus(id, status);
  }

  async updateBatch(id: number, patch: BatchPatch): Promise<BatchRecord | null> {
    const b = this.batches;
    return this.write(() => b.update(id, patch));
  }

  async deleteBatch(id: number): Promise<'deleted' | 'running' | 'missing'> {
    const b = this.batches;
    return this.write(() => b.delete(id));
  }

  async batchItem(id: number, index: number): Promise<Job | null> {
    return this.toJobOrNull(this.batches.item(id, index) ?? undefined);
  }

  async rerunBatchItems(id: number, which: RerunSelection, now: number, newId: () => string): Promise<Job[]> {
    const b = this.batches;
    const rows = await this.write(() => b.rerun(id, which, now, newId));
    return rows.map(this.toJob);
  }

  async listBatchItems(query: BatchItemQuery): Promise<BatchItemPage> {
    const { rows, more } = this.batches.items(query);
    const jobs = rows.map(this.toJob);
    const last = rows[rows.length - 1];
    return {
      jobs,
      next: more && last ? { batchId: last.batch_id!, index: last.batch_index! } : null,
    };
  }

  async setDone(jobId: string, done: boolean): Promise<Job | null> {
    const b = this.batches;
    return this.toJobOrNull((await this.write(() => b.setDone(jobId, done))) ?? undefined);
  }

  async trackerCounts(): Promise<BatchCounts> {
    return this.batches.allCounts();
  }

  async finishedPerMinute(since: number): Promise<MinuteCount[]> {
    return this.batches.perMinute(since);
  }

  // --- Output collection ---
  private get collections(): SqliteCollections {
    if (!this.collectionRows) throw new Error('SqliteJobStore is not open (call init() first)');
    return this.collectionRows;
  }

  async listUncollected(
    since: number,
    after: { endedAt: number; id: string } | null,
    limit: number,
  ): Promise<Job[]> {
    return this.collections.uncollected(since, after, limit);
  }

  async getCollections(jobIds: readonly string[]): Promise<CollectionRecord[]> {
    return this.collections.get(jobIds);
  }

  async saveCollection(record: CollectionRecord): Promise<boolean> {
    const rows = this.collections;
    return this.write(() => rows.save(record), { patient: true });
  }

  // ---- queue handling ----
  private placement: ReturnType<typeof preparePlacement> | null = null;

  async placePending(
    placements: readonly { id: string; priority: number; fair: number; position: number }[],
  ): Promise<number> {
    if (!this.db) throw new Error('SqliteJobStore is not open (call init() first)');
    this.placement ??= preparePlacement(this.db);
    const placement = this.placement;
    return this.write(() => placement.run(placements));
  }

  // ---- remote agents --------------------------------------------------

  private get agents(): SqliteAgents {
    if (!this.agentRows) throw new Error('SqliteJobStore is not open (call init() first)');
    return this.agentRows;
  }

  async saveEnrollment(enrollment: AgentEnrollment): Promise<void> {
    const rows = this.agents;
    await this.write(() => rows.save(enrollment));
  }

  async listEnrollments(): Promise<AgentEnrollment[]> {
    return this.agents.list();
  }

  async redeemEnrollment(
    tokenHash: string,
    agent: string,
    credentialHash: string,
    now: number,
  ): Promise<AgentEnrollment | null> {
    const rows = this.agents;
    return this.write(() => rows.redeem(tokenHash, agent, credentialHash, now));
  }

  async enrollmentForCredential(credentialHash: string): Promise<AgentEnrollment | null> {
    return this.agents.forCredential(credentialHash);
  }

  /** One server per database (the data-folder lock): nothing else can be sweeping. */
  /** Forgets a batch's cached template (another connection renamed or deleted it). */
  forgetBatch(id: number): void {
    this.batchParts?.drop(id);
  }

  async runExclusive<T>(_name: string, fn: () => Promise<T>): Promise<T | null> {
    return fn();
  }
}

function finishParams(id: string, patch: FinishPatch) {
  return {
    id,
    status: patch.status,
    ended: patch.endedAt,
    set_outputs: patch.outputs === undefined ? 0 : 1,
    outputs: toJson(patch.outputs),
    set_error: patch.error === undefined ? 0 : 1,
    error: toJson(patch.error),
  };
}
