/**
 * The JobStore: the one seam between comfy-queue and its database. It speaks
 * queue, not SQL. Every method is asynchronous (the SQLite driver is not, the
 * PostgreSQL one is) and every change is committed before its promise resolves:
 * a write whose commit fails rejects (STORE_FULL, STORE_BUSY or the driver's
 * error) and no caller ever sees its result.
 * Methods that change a job's status are atomic compare-and-set operations
 * inside the store: they name the status they expect and change nothing
 * (resolving null) when the job is not in it.
 */
import type { FinishedBucket } from '../domain/batch-throughput.js';
import type { Job, JobError, JobOutputs, JobStatus, NewJob } from '../domain/job.js';
import type {
  BatchCounts,
  BatchItemPage,
  BatchItemQuery,
  BatchPatch,
  BatchRecord,
  MinuteCount,
  NewBatch,
  RerunSelection,
} from './batch-types.js';
import type { JobPage, JobQuery } from './job-query.js';

export type EnqueueResult =
  | { ok: true; job: Job }
  | { ok: false; code: 'DUPLICATE_ID'; id: string }
  /** not stored because another job of the same all-or-nothing call was refused */
  | { ok: false; code: 'NOT_STORED'; id: string };

export interface FinishPatch {
  status: 'completed' | 'failed' | 'cancelled';
  endedAt: number;
  outputs?: JobOutputs | null;
  error?: JobError | null;
}

/** A history thumbnail: a small PNG made from a job's preview output (src/history/thumbnails.ts). */
export interface Thumbnail {
  png: Buffer;
  width: number;
  height: number;
  /** png.length */
  bytes: number;
  /** ms since epoch */
  createdAt: number;
}

export type NewThumbnail = Omit<Thumbnail, 'bytes'>;

export interface ThumbnailTotals {
  count: number;
  bytes: number;
}

export interface QueueCounts {
  pending: number;
  in_progress: number;
  completed: number;
  failed: number;
  cancelled: number;
}

/**
 * Whether the store can write: `full` (the disk is full: STORE_FULL) or
 * `locked` (another process held the write lock past the busy timeout:
 * STORE_BUSY) until a write succeeds again. Reads work in every state.
 * `unavailable` (PostgreSQL only): the database server cannot be reached
 * (STORE_UNAVAILABLE); reads fail too until it answers again.
 */
export interface StoreHealth {
  state: 'ok' | 'full' | 'locked' | 'unavailable';
  /** what happened and what to do; null when ok */
  message: string | null;
  /** ms since epoch when the state began; null when ok */
  since: number | null;
}

/** A registered worker: a ComfyUI driven by this server (push) or an agent that pulls work. */
export interface WorkerRecord {
  /** stable: a name, or derived from the URL; never a position on the command line */
  id: string;
  kind: 'push' | 'agent';
  /** the command line (`--comfy`: driven while it is given there) or the API (kept until removed) */
  source: 'flag' | 'api';
  /** the ComfyUI address of a push worker; null for an agent */
  url: string | null;
  tags: string[];
  /** jobs it holds at once */
  capacity: number;
  /** the operator's wish: take work, finish what it holds and take nothing new, or hold still */
  mode: 'active' | 'draining' | 'paused';
  /** its failure record (quarantine, blocked workflows), as the farm rules keep it */
  health: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

/** A worker's finished jobs since some time. */
export interface WorkerTotals {
  worker: string;
  completed: number;
  failed: number;
  /** mean run time of its completed jobs, ms */
  meanMs: number | null;
  /** time spent running jobs in the window, ms */
  busyMs: number;
}

/** A file of a job copied to the collect folder or bucket (src/outputs). */
export interface CollectedFile {
  /** where it is, relative to the folder or the bucket's prefix: `<batch>/<index>.png`, `jobs/…` */
  key: string;
  bytes: number;
  /** the file on the worker, as the job's outputs list it */
  filename: string;
  subfolder: string;
  type: string;
}

/** Where a completed job's outputs are: being copied (`pending`), all copied (`stored`) or given up (`failed`). */
export interface CollectionRecord {
  jobId: string;
  /** the job's ended_at of the completion collected: a job that ends again is collected again */
  endedAt: number;
  state: 'pending' | 'stored' | 'failed';
  /** the folder (`file:///abs/dir`) or bucket (`s3://bucket/prefix`) the files went to */
  target: string;
  /** every file, once stored; those copied so far while pending */
  files: CollectedFile[];
  /** transfers tried and failed */
  attempts: number;
  /** the last failure, while pending or failed */
  error: string | null;
  updatedAt: number;
}

/**
 * An agent enrollment: a one-time token the operator made (its hash), and once
 * redeemed, the agent it enrolled and the hash of the credential that agent got.
 */
export interface AgentEnrollment {
  id: string;
  /** sha256 of the enrollment token; null for an agent enrolled with the server's own token */
  tokenHash: string | null;
  note: string | null;
  createdAt: number;
  /** the token cannot be redeemed after this (ms since epoch); null = never expires */
  expiresAt: number | null;
  usedAt: number | null;
  /** the agent that redeemed it */
  agent: string | null;
  /** sha256 of the credential the agent received */
  credentialHash: string | null;
  /** revoked: the token cannot be redeemed, and the credential it gave is refused */
  revokedAt: number | null;
}

/** Where a walk over the pending jobs stopped: the last job it read. */
export interface PendingCursor {
  createdAt: number;
  id: string;
}

export interface JobStore {
  /** Opens the database and applies pending migrations. */
  init(): Promise<void>;
  close(): Promise<void>;
  /** Whether writes work now; it changes by itself when the cause goes away. */
  health(): StoreHealth;

  /**
   * Stores new pending jobs. Calls that arrive together are written in one
   * transaction (group commit); each resolves only after that commit.
   * A duplicate id is refused for that job alone; with `allOrNothing`, a
   * duplicate id refuses the whole call (its other jobs answer NOT_STORED).
   */
  enqueue(jobs: NewJob[], opts?: { allOrNothing?: boolean }): Promise<EnqueueResult[]>;

  get(id: string): Promise<Job | null>;

  /** Pending jobs in run order (priority desc, position asc, created_at asc, id asc). */
  listPending(limit: number, offset?: number): Promise<Job[]>;
  /**
   * Pending jobs (outside paused batches) in (created_at, id) order, the
   * page after `after`: a walk over the whole queue that costs O(page) per
   * page however long the queue is, and never skips or repeats a job when
   * jobs ahead of it finish meanwhile.
   */
  scanPending(limit: number, after?: PendingCursor | null): Promise<Job[]>;
  /** Every in_progress job (a few per worker at most). */
  listInProgress(): Promise<Job[]>;
  counts(): Promise<QueueCounts>;

  /**
   * Atomically takes the first pending job in run order (skipping `exclude`),
   * marks it in_progress on `worker` with a lease, counts an attempt and
   * stamps started_at. Resolves null when nothing is eligible.
   */
  claimNext(
    worker: string,
    now: number,
    leaseUntil: number,
    exclude?: readonly string[],
  ): Promise<Job | null>;
  /** Extends the lease of jobs held by `worker`. */
  renewLeases(worker: string, ids: readonly string[], leaseUntil: number): Promise<void>;
  /**
   * in_progress → completed | failed | cancelled. With `expectedWorker`, only
   * while that worker still holds the job: a worker whose lease lapsed and
   * whose job went elsewhere must not finish it. With `expectedAttempt` (the
   * fencing token: the job's `attempts` as its claim returned it), only while
   * that claim is the current one: a report of an earlier claim changes
   * nothing, even from the same worker. `outputs`/`error` left undefined keep
   * their stored value; null clears it.
   */
  finish(
    id: string,
    patch: FinishPatch,
    expectedWorker?: string,
    expectedAttempt?: number,
  ): Promise<Job | null>;
  /**
   * in_progress → pending, keeping its place in the queue (the worker never ran it).
   * Clears worker, lease and started_at; keeps attempts. `expectedWorker` and `expectedAttempt` as in `finish`.
   */
  release(
    id: string,
    error?: JobError | null,
    expectedWorker?: string,
    expectedAttempt?: number,
  ): Promise<Job | null>;
  /**
   * `finish` of a job held by `worker`, then — when `claim` is given —
   * `claimNext` for the same worker, in one transaction: the dispatch path
   * pays one commit per job instead of two. `expectedAttempt` as in `finish`
   * (the claim is made either way).
   */
  finishAndClaim(
    id: string,
    patch: FinishPatch,
    worker: string,
    claim: { now: number; leaseUntil: number; jobId?: string } | null,
    expectedAttempt?: number,
  ): Promise<{ finished: Job | null; next: Job | null }>;
  /**
   * pending → cancelled or failed, without running (a person's cancel, or a job that can no longer run).
   * A `completed` patch is a caller's bug and rejects.
   */
  finishPending(id: string, patch: FinishPatch): Promise<Job | null>;

  /** The listed pending jobs take this relative order, ahead of the other pending jobs at their priority. */
  reorder(ids: readonly string[]): Promise<number>;
  /** Pending jobs only; the job keeps its position, so it lands among its new peers by enqueue order. */
  setPriority(id: string, priority: number): Promise<Job | null>;
  rename(id: string, name: string | null): Promise<Job | null>;
  setFlagged(id: string, flagged: boolean): Promise<Job | null>;
  /** Deletes jobs whose status is among `statuses`, with their thumbnails and search text; resolves the ids deleted. */
  delete(ids: readonly string[], statuses: readonly JobStatus[]): Promise<string[]>;

  /** A page of jobs: filters, one sort, offset/limit or a keyset position (job-query.ts). */
  listJobs(query: JobQuery): Promise<JobPage>;
  /** The worker that holds the file a job produced (`type`/`subfolder`/`filename` as in its outputs). */
  workerForFile(type: string, subfolder: string, filename: string): Promise<string | null>;

  /** The latest job that produced this file, if any. */
  jobForFile(type: string, subfolder: string, filename: string): Promise<string | null>;

  /** A job's history thumbnail, or null when none was made (or it was pruned). */
  getThumbnail(jobId: string): Promise<Thumbnail | null>;
  /** Which of these jobs have a thumbnail (one index probe each). */
  withThumbnails(jobIds: readonly string[]): Promise<Set<string>>;
  /** Stores or replaces a job's thumbnail; false (nothing stored) when the job no longer exists. */
  putThumbnail(jobId: string, thumb: NewThumbnail): Promise<boolean>;
  /** How many thumbnails are stored and their bytes, in O(1). */
  thumbnailTotals(): Promise<ThumbnailTotals>;
  /** Deletes up to `limit` of the oldest thumbnails (their jobs stay); resolves how many went. */
  deleteOldestThumbnails(limit: number): Promise<number>;

  /**
   * in_progress → pending after a worker failure (out of memory, a crash): the job keeps its place,
   * its worker, lease and started_at are cleared and one retry is spent. `expectedWorker` and
   * `expectedAttempt` as in `finish`.
   */
  retry(id: string, error: JobError, expectedWorker: string, expectedAttempt?: number): Promise<Job | null>;

  /** Every registered worker, oldest first. */
  listWorkers(): Promise<WorkerRecord[]>;
  /** Registers a worker or replaces its record. */
  saveWorker(worker: WorkerRecord): Promise<void>;
  /** Forgets a worker; false when it was not registered. Its jobs are the caller's to return. */
  deleteWorker(id: string): Promise<boolean>;
  /** Jobs each worker finished since `since` (ms since epoch), with their durations. */
  workerTotals(since: number): Promise<WorkerTotals[]>;
  /**
   * Like `claimNext`, but for one job the caller chose (routing): pending → in_progress
   * on `worker`; null when the job is no longer pending.
   */
  claimJob(id: string, worker: string, now: number, leaseUntil: number): Promise<Job | null>;

  /** A small key/value of server state (the paused flag, worker client ids...). */
  getSetting(key: string): Promise<string | null>;
  setSetting(key: string, value: string): Promise<void>;

  // ---- batches and the render tracker (batch-types.ts) ----

  /** Stores a batch and all its items in one transaction. */
  createBatch(batch: NewBatch): Promise<BatchRecord>;
  getBatch(id: number): Promise<BatchRecord | null>;
  /** Every batch, oldest first. */
  listBatches(): Promise<BatchRecord[]>;
  /** Counts over the current run of each item. */
  batchCounts(id: number): Promise<BatchCounts>;
  /** Items that finished (completed or failed) since `since` (ms since epoch). */
  batchFinishedSince(id: number, since: number): Promise<number>;
  /**
   * Items of the batch that finished (completed or failed) at or after `from`, counted per bucket
   * of `bucketMs` aligned to multiples of it; buckets with none are left out, in time order.
   */
  batchFinishedBuckets(id: number, from: number, bucketMs: number): Promise<FinishedBucket[]>;
  /** Keeps a batch's pending items from dispatch, or lets them go; resolves how many moved, or null when there is no such batch. */
  setBatchPaused(id: number, paused: boolean): Promise<number | null>;
  /** Cancels a batch's pending items at once; resolves how many. */
  cancelBatchPending(id: number, now: number): Promise<number>;
  /** The ids of a batch's items in this status. */
  batchJobIds(id: number, status: 'pending' | 'in_progress'): Promise<string[]>;
  /** Name, priority (of its pending items too) and weight; null when there is no such batch. */
  updateBatch(id: number, patch: BatchPatch): Promise<BatchRecord | null>;
  /** Deletes a batch and every run of its items; refused while one runs. */
  deleteBatch(id: number): Promise<'deleted' | 'running' | 'missing'>;
  /** The current run of an item (1-based index). */
  batchItem(id: number, index: number): Promise<Job | null>;
  /** Finished items run again as new pending jobs, the earlier runs kept as history; resolves the new jobs. */
  rerunBatchItems(id: number, which: RerunSelection, now: number, newId: () => string): Promise<Job[]>;
  /** A page of batch items in (batch, index) order. */
  listBatchItems(query: BatchItemQuery): Promise<BatchItemPage>;
  /** Marks a completed job done (a client has its outputs), or clears the mark; null when it is not completed. */
  setDone(jobId: string, done: boolean): Promise<Job | null>;
  /** Counts over the current run of every batch item. */
  trackerCounts(): Promise<BatchCounts>;
  /** Jobs finished per minute since `since`. */
  finishedPerMinute(since: number): Promise<MinuteCount[]>;
  // --- Output collection (src/outputs) ---
  /**
   * Completed jobs that ended at or after `since` whose outputs are not collected yet: no record of
   * their latest completion, or a `pending` one. In (ended_at, id) order, after the keyset `after`.
   */
  listUncollected(
    since: number,
    after: { endedAt: number; id: string } | null,
    limit: number,
  ): Promise<Job[]>;
  /** The collection records of these jobs (those that have one). */
  getCollections(jobIds: readonly string[]): Promise<CollectionRecord[]>;
  /**
   * Stores or replaces a job's collection record, only while the job is completed with that
   * `endedAt` (a transfer of an earlier run never marks a later one); false when nothing was written.
   */
  saveCollection(record: CollectionRecord): Promise<boolean>;
  // ---- queue handling (move a selection to the top or bottom, one job by one place) ----
  /**
   * Sets the priority, fair-share tag and position of pending jobs in one commit (the caller computed them, see
   * domain/queue-moves.ts); jobs no longer pending are skipped. Resolves how many moved.
   */
  placePending(
    placements: readonly { id: string; priority: number; fair: number; position: number }[],
  ): Promise<number>;
  // ---- remote agents: enrollments and credentials (docs/farm.md) ----
  /** Stores an enrollment or replaces it (same id). */
  saveEnrollment(enrollment: AgentEnrollment): Promise<void>;
  /** Every enrollment, oldest first. */
  listEnrollments(): Promise<AgentEnrollment[]>;
  /**
   * Redeems a one-time token atomically: only while it is unused, unrevoked and
   * not expired at `now`, it records the agent and its credential's hash.
   * Resolves the updated enrollment, or null when the token cannot be redeemed.
   */
  redeemEnrollment(
    tokenHash: string,
    agent: string,
    credentialHash: string,
    now: number,
  ): Promise<AgentEnrollment | null>;
  /** The enrollment that gave this credential (revoked or not), or null. */
  enrollmentForCredential(credentialHash: string): Promise<AgentEnrollment | null>;
  // Scale-out: several servers on one database (PostgreSQL)
  /**
   * Runs `fn` unless a sweep of the same name (lease expiry, retention,
   * thumbnail pruning) is running now anywhere on this database; resolves
   * its result, or null when it was skipped. SQLite has one server per
   * database and always runs it; PostgreSQL holds an advisory lock meanwhile.
   */
  runExclusive<T>(name: string, fn: () => Promise<T>): Promise<T | null>;
  /**
   * Forgets what the store keeps in memory of a batch (its template and name):
   * another server changed it (src/cluster). Stores that keep nothing omit it.
   */
  forgetBatch?(id: number): void;
  /** Several jobs by id in one read, in no particular order (those that exist); for stores shared by servers. */
  getMany?(ids: readonly string[]): Promise<Job[]>;
}
