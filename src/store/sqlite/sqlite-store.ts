/**
 * The embedded JobStore on SQLite (better-sqlite3). One connection per store;
 * WAL so readers never wait for the writer; synchronous=FULL by default so an
 * acknowledged commit survives power loss, not only a crash of this process.
 * The driver is synchronous: each method does its work at once and hands the
 * result back as a promise, except enqueue, which group-commits.
 */
import Database from 'better-sqlite3';
import type { Job, JobError, JobStatus, NewJob } from '../../domain/job.js';
import { jobSearchText } from '../../domain/search-text.js';
import type { JobPage, JobQuery } from '../job-query.js';
import type {
  EnqueueResult,
  FinishPatch,
  JobStore,
  NewThumbnail,
  QueueCounts,
  Thumbnail,
  ThumbnailTotals,
} from '../job-store.js';
import { GroupCommit } from './group-commit.js';
import { type InsertParams, insertParams, type JobRow, newJobAsStored, rowToJob, toJson } from './job-row.js';
import { SqliteJobLister } from './list-jobs.js';
import { migrate } from './migrate.js';
import { SearchIndex } from './search-index.js';
import { prepareStatements, type Statements } from './statements.js';
import { SqliteThumbnails } from './thumbnails.js';

export interface SqliteStoreOptions {
  /** path of the database file (its folder must exist), or ':memory:' */
  file: string;
  /** FULL (default): fsync on every commit. NORMAL: a power cut may lose the last commits. */
  synchronous?: 'FULL' | 'NORMAL';
  /** how long a write waits for another connection's lock, in ms */
  busyTimeoutMs?: number;
  /** text matches up to which a history page sorts the matches instead of walking the sort index (tests) */
  fewTextMatches?: number;
}

interface PendingInsert {
  job: NewJob;
  params: InsertParams;
  /** its history search text */
  text: string;
}

function toJobOrNull(row: JobRow | undefined): Job | null {
  return row ? rowToJob(row) : null;
}

export class SqliteJobStore implements JobStore {
  private db: Database.Database | null = null;
  private stmts: Statements | null = null;
  private lister: SqliteJobLister | null = null;
  private search: SearchIndex | null = null;
  private thumbs: SqliteThumbnails | null = null;
  private readonly group = new GroupCommit<PendingInsert[], EnqueueResult[]>((calls) =>
    this.writeBatch(calls),
  );

  constructor(private readonly options: SqliteStoreOptions) {}

  async init(): Promise<void> {
    if (this.db) return;
    const db = new Database(this.options.file);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${this.options.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
      db.pragma(`busy_timeout = ${Math.trunc(this.options.busyTimeoutMs ?? 5000)}`);
      db.pragma('foreign_keys = ON');
      migrate(db);
      this.stmts = prepareStatements(db);
      this.lister = new SqliteJobLister(db, this.options.fewTextMatches);
      this.search = new SearchIndex(db);
      this.search.backfill();
      this.thumbs = new SqliteThumbnails(db);
    } catch (err) {
      db.close();
      throw err;
    }
    this.db = db;
  }

  async close(): Promise<void> {
    if (!this.db) return;
    this.group.flush();
    this.db.close();
    this.db = null;
    this.stmts = null;
    this.lister = null;
    this.search = null;
    this.thumbs = null;
  }

  private assertOpen(): void {
    if (!this.db) throw new Error('SqliteJobStore is not open (call init() first)');
  }

  private get s(): Statements {
    if (!this.stmts) throw new Error('SqliteJobStore is not open (call init() first)');
    return this.stmts;
  }

  private get conn(): Database.Database {
    if (!this.db) throw new Error('SqliteJobStore is not open (call init() first)');
    return this.db;
  }

  async enqueue(jobs: NewJob[]): Promise<EnqueueResult[]> {
    this.assertOpen(); // fail fast when closed, before joining a batch
    // Serialize here, so a job that cannot be encoded fails its own call only.
    const calls = jobs.map((job) => ({
      job,
      params: insertParams(job),
      text: jobSearchText(job.name, job.prompt),
    }));
    if (calls.length === 0) return [];
    return this.group.submit(calls);
  }

  /** One IMMEDIATE transaction for every enqueue call of this turn, in arrival order. */
  private writeBatch(calls: readonly PendingInsert[][]): EnqueueResult[][] {
    const s = this.s;
    const search = this.search!;
    const tx = this.conn.transaction(() => {
      let next: number | null = null; // max(position)+1, read at most once per batch
      const append = () => {
        next ??= (s.maxPosition.get()?.m ?? 0) + 1;
        return next;
      };
      return calls.map((call) =>
        call.map(({ job, params, text }): EnqueueResult => {
          const first = job.front
            ? (s.minQueuedPosition.get({ priority: job.priority })?.position ?? null)
            : null;
          const front = first !== null;
          const position = job.position ?? (front ? first - 1 : append());
          const inserted = s.insert.run({ ...params, position });
          if (inserted.changes === 0) {
            return { ok: false, code: 'DUPLICATE_ID', id: job.id };
          }
          search.add(inserted.lastInsertRowid, text);
          if (!front && job.position == null) next = position + 1;
          return { ok: true, job: newJobAsStored(job, position) };
        }),
      );
    });
    return tx.immediate();
  }

  async get(id: string): Promise<Job | null> {
    return toJobOrNull(this.s.get.get(id));
  }

  async listPending(limit: number, offset = 0): Promise<Job[]> {
    return this.s.listPending.all(limit, offset).map(rowToJob);
  }

  async listInProgress(): Promise<Job[]> {
    return this.s.listInProgress.all().map(rowToJob);
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
    return toJobOrNull(
      this.s.claimNext.get({ worker, now, lease: leaseUntil, exclude: JSON.stringify(exclude) }),
    );
  }

  async renewLeases(worker: string, ids: readonly string[], leaseUntil: number): Promise<void> {
    if (ids.length === 0) return;
    this.s.renewLeases.run({ worker, ids: JSON.stringify(ids), lease: leaseUntil });
  }

  async finish(id: string, patch: FinishPatch, expectedWorker?: string): Promise<Job | null> {
    return toJobOrNull(this.s.finish.get({ ...finishParams(id, patch), holder: expectedWorker ?? null }));
  }

  async finishAndClaim(
    id: string,
    patch: FinishPatch,
    worker: string,
    claim: { now: number; leaseUntil: number } | null,
  ): Promise<{ finished: Job | null; next: Job | null }> {
    const s = this.s;
    const tx = this.conn.transaction(() => {
      const finished = toJobOrNull(s.finish.get({ ...finishParams(id, patch), holder: worker }));
      const next = claim
        ? toJobOrNull(s.claimNext.get({ worker, now: claim.now, lease: claim.leaseUntil, exclude: '[]' }))
        : null;
      return { finished, next };
    });
    return tx.immediate();
  }

  async finishPending(id: string, patch: FinishPatch): Promise<Job | null> {
    if (patch.status === 'completed') throw new TypeError('finishPending: a pending job cannot complete');
    return toJobOrNull(this.s.finishPending.get(finishParams(id, patch)));
  }

  async release(id: string, error?: JobError | null, expectedWorker?: string): Promise<Job | null> {
    return toJobOrNull(
      this.s.release.get({
        id,
        set_error: error === undefined ? 0 : 1,
        error: toJson(error),
        holder: expectedWorker ?? null,
      }),
    );
  }

  async reorder(ids: readonly string[]): Promise<number> {
    const s = this.s;
    const tx = this.conn.transaction(() => {
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
        group.forEach((id, i) => {
          s.setPendingPosition.run(min - group.length + i, id);
        });
        moved += group.length;
      }
      return moved;
    });
    return tx.immediate();
  }

  async setPriority(id: string, priority: number): Promise<Job | null> {
    return toJobOrNull(this.s.setPriority.get(priority, id));
  }

  async rename(id: string, name: string | null): Promise<Job | null> {
    const tx = this.conn.transaction(() => {
      const job = toJobOrNull(this.s.rename.get(name, id));
      if (job) this.search!.reindex(id);
      return job;
    });
    return tx.immediate();
  }

  async setFlagged(id: string, flagged: boolean): Promise<Job | null> {
    return toJobOrNull(this.s.setFlagged.get(flagged ? 1 : 0, id));
  }

  async delete(ids: readonly string[], statuses: readonly JobStatus[]): Promise<string[]> {
    if (ids.length === 0 || statuses.length === 0) return [];
    return this.s.delete.all(JSON.stringify(ids), JSON.stringify(statuses)).map((r) => r.id);
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
    return this.thumbnails.put(jobId, thumb);
  }

  async thumbnailTotals(): Promise<ThumbnailTotals> {
    return this.thumbnails.totals();
  }

  async deleteOldestThumbnails(limit: number): Promise<number> {
    return this.thumbnails.deleteOldest(limit);
  }

  async getSetting(key: string): Promise<string | null> {
    return this.s.getSetting.get(key)?.value ?? null;
  }

  async setSetting(key: string, value: string): Promise<void> {
    this.s.setSetting.run(key, value);
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
