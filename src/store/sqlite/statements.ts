/**
 * Every SQL statement of the SQLite adapter, prepared once per connection.
 * Queries on the pending queue name `status = 'pending' AND held = 0`
 * literally so that the planner can use the partial index `jobs_run_order`
 * (fair share first: migration 0007). Lists of ids
 * travel as one JSON array parameter (json_each), so one prepared statement
 * serves any length.
 */
import type Database from 'better-sqlite3';
import type { JobStatus } from '../../domain/job.js';
import { type InsertParams, type JobRowStatement, jobRowColumns, jobRowStatement } from './job-row.js';

const RUN_ORDER = 'priority DESC, fair, position, created_at, id';
const COLUMNS = jobRowColumns();
// Without statistics the planner prefers jobs_status_created and sorts every
// pending row; naming the partial index keeps queue reads O(log n + k).
const PENDING = `jobs INDEXED BY jobs_run_order WHERE status = 'pending' AND held = 0`;

/** A finish's parameters: `set_outputs`/`set_error` tell "leave as is" (0) from "write this" (1). */
interface FinishParams {
  id: string;
  status: string;
  ended: number;
  set_outputs: number;
  outputs: string | null;
  set_error: number;
  error: string | null;
}

export function prepareStatements(db: Database.Database) {
  const p = <P extends unknown[] | object, R = unknown>(sql: string) => db.prepare<P, R>(sql);
  const rows = <P extends unknown[] | object>(sql: string) => jobRowStatement<P>(db, sql);
  return {
    /** listPending's statements, one per limit and offset (PendingStatements) */
    listPending: new PendingStatements(db),
    insert: p<InsertParams & { position: number; fair: number }>(
      `INSERT INTO jobs (id, name, prompt, workflow, extra_data, sensitive, client_id, priority, position,
         status, created_at, targets, requeued_from, requires, owner, fair)
       VALUES (@id, @name, @prompt, @workflow, @extra_data, @sensitive, @client_id, @priority, @position,
         'pending', @created_at, @targets, @requeued_from, @requires, @owner, @fair)
       ON CONFLICT (id) DO NOTHING`,
    ),
    maxPosition: p<[], { m: number | null }>('SELECT max(position) AS m FROM jobs'),
    // In-progress jobs count too: one waiting in a worker's own queue (dispatch
    // lookahead) comes back to its place when the order changes, and a job
    // moved to the front must stay ahead of it.
    minQueuedPosition: p<{ priority: number }, { position: number | null }>(
      `SELECT min(position) AS position FROM (
         SELECT position FROM (SELECT position FROM ${PENDING} AND priority = @priority ORDER BY ${RUN_ORDER} LIMIT 1)
         UNION ALL
         SELECT min(position) FROM jobs WHERE status = 'in_progress' AND priority = @priority)`,
    ),
    get: rows<[id: string]>(`SELECT ${COLUMNS} FROM jobs WHERE id = ?`),
    scanPending: rows<{ limit: number; created: number; id: string }>(
      `SELECT ${COLUMNS} FROM jobs INDEXED BY jobs_status_created
       WHERE status = 'pending' AND held = 0 AND (created_at, id) > (@created, @id)
       ORDER BY created_at, id LIMIT @limit`,
    ),
    listInProgress: rows<[]>(
      `SELECT ${COLUMNS} FROM jobs WHERE status = 'in_progress' ORDER BY created_at, id`,
    ),
    counts: p<[], { status: JobStatus; n: number }>('SELECT status, n FROM job_counts'),
    // One statement: it takes the write lock before it reads, so the pick and
    // the update cannot be split by another connection.
    claimNext: rows<{ worker: string; now: number; lease: number; exclude: string }>(
      `UPDATE jobs SET status = 'in_progress', worker = @worker, lease_until = @lease,
         attempts = attempts + 1, started_at = @now
       WHERE id = (SELECT id FROM ${PENDING}
                     AND id NOT IN (SELECT value FROM json_each(@exclude))
                   ORDER BY ${RUN_ORDER} LIMIT 1)
         AND status = 'pending'
       RETURNING ${COLUMNS}`,
    ),
    claimJob: rows<{ id: string; worker: string; now: number; lease: number }>(
      `UPDATE jobs SET status = 'in_progress', worker = @worker, lease_until = @lease,
         attempts = attempts + 1, started_at = @now
       WHERE id = @id AND status = 'pending'
       RETURNING ${COLUMNS}`,
    ),
    // A worker failure: back to its place among the pending jobs, one retry spent.
    retry: rows<{ id: string; holder: string; attempt: number | null; error: string }>(
      `UPDATE jobs SET status = 'pending', worker = NULL, lease_until = NULL, started_at = NULL,
         retries = retries + 1, error = @error
       WHERE id = @id AND status = 'in_progress' AND worker = @holder
         AND (@attempt IS NULL OR attempts = @attempt)
       RETURNING ${COLUMNS}`,
    ),
    renewLeases: p<{ worker: string; ids: string; lease: number }>(
      `UPDATE jobs SET lease_until = @lease
       WHERE status = 'in_progress' AND worker = @worker
         AND id IN (SELECT value FROM json_each(@ids))`,
    ),
    // `set_outputs`/`set_error` tell "leave as is" (undefined) from "clear" (null).
    finish: rows<FinishParams & { holder: string | null; attempt: number | null }>(
      `UPDATE jobs SET status = @status, ended_at = @ended, lease_until = NULL,
         outputs = CASE WHEN @set_outputs THEN @outputs ELSE outputs END,
         error = CASE WHEN @set_error THEN @error ELSE error END
       WHERE id = @id AND status = 'in_progress' AND (@holder IS NULL OR worker = @holder)
         AND (@attempt IS NULL OR attempts = @attempt)
       RETURNING ${COLUMNS}`,
    ),
    finishPending: rows<FinishParams>(
      `UPDATE jobs SET status = @status, ended_at = @ended,
         outputs = CASE WHEN @set_outputs THEN @outputs ELSE outputs END,
         error = CASE WHEN @set_error THEN @error ELSE error END
       WHERE id = @id AND status = 'pending'
       RETURNING ${COLUMNS}`,
    ),
    release: rows<{
      id: string;
      set_error: number;
      error: string | null;
      holder: string | null;
      attempt: number | null;
    }>(
      `UPDATE jobs SET status = 'pending', worker = NULL, lease_until = NULL, started_at = NULL,
         error = CASE WHEN @set_error THEN @error ELSE error END
       WHERE id = @id AND status = 'in_progress' AND (@holder IS NULL OR worker = @holder)
         AND (@attempt IS NULL OR attempts = @attempt)
       RETURNING ${COLUMNS}`,
    ),
    pendingPlace: p<[id: string], { priority: number }>(
      `SELECT priority FROM jobs WHERE id = ? AND status = 'pending'`,
    ),
    setPendingPosition: p<[position: number, fair: number, id: string]>(
      `UPDATE jobs SET position = ?, fair = ? WHERE id = ? AND status = 'pending'`,
    ),
    setPendingFair: p<[fair: number, id: string]>(
      `UPDATE jobs SET fair = ? WHERE id = ? AND status = 'pending'`,
    ),
    setPriority: rows<[priority: number, id: string]>(
      `UPDATE jobs SET priority = ? WHERE id = ? AND status = 'pending' RETURNING ${COLUMNS}`,
    ),
    rename: rows<[name: string | null, id: string]>(
      `UPDATE jobs SET name = ? WHERE id = ? RETURNING ${COLUMNS}`,
    ),
    setFlagged: rows<[flagged: number, id: string]>(
      `UPDATE jobs SET flagged = ? WHERE id = ? RETURNING ${COLUMNS}`,
    ),
    delete: p<[ids: string, statuses: string], { id: string }>(
      `DELETE FROM jobs WHERE id IN (SELECT value FROM json_each(?))
         AND status IN (SELECT value FROM json_each(?))
       RETURNING id`,
    ),
    getSetting: p<[key: string], { value: string }>('SELECT value FROM settings WHERE key = ?'),
    setSetting: p<[key: string, value: string]>(
      `INSERT INTO settings (key, value) VALUES (?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    ),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;

/** How many of listPending's statements are kept, one per limit and offset asked for. */
const PENDING_STATEMENTS = 32;

/**
 * The statements of listPending, one per limit and offset, the numbers
 * written in the SQL. SQLite (3.53) prepares a statement again at every run
 * when its LIMIT or OFFSET is a bound parameter, because the planner reads
 * the bound value: that was about a third of each read of the queue's head,
 * which the scheduler makes at every finish. The scheduler asks for a few
 * sizes only; past PENDING_STATEMENTS of them the oldest is dropped.
 */
export class PendingStatements {
  private readonly kept = new Map<string, JobRowStatement<[]>>();

  constructor(private readonly db: Database.Database) {}

  get(limit: number, offset: number): JobRowStatement<[]> {
    if (!Number.isSafeInteger(limit) || !Number.isSafeInteger(offset) || limit < 0 || offset < 0) {
      throw new RangeError(`listPending needs whole numbers >= 0, not limit ${limit}, offset ${offset}`);
    }
    const key = `${limit}/${offset}`;
    let stmt = this.kept.get(key);
    if (!stmt) {
      stmt = jobRowStatement(
        this.db,
        `SELECT ${COLUMNS} FROM ${PENDING} ORDER BY ${RUN_ORDER} LIMIT ${limit} OFFSET ${offset}`,
      );
      if (this.kept.size >= PENDING_STATEMENTS) this.kept.delete(this.kept.keys().next().value!);
      this.kept.set(key, stmt);
    }
    return stmt;
  }
}
