/**
 * The SQL of the PostgreSQL store's queue: claims, status changes and edits,
 * one statement each, numbered parameters. Queries on the pending queue
 * name `status = 'pending' AND NOT held` literally so that the planner uses
 * the partial index `jobs_run_order` (fair share first: migration 0003). Status changes are compare-and-set: the WHERE
 * names the status (and holder, and attempt) they expect.
 */
import { JOB_COLUMNS } from './job-row.js';

export const RUN_ORDER = 'priority DESC, fair, position, created_at, id';

/** The pending jobs in the run order's partial index (a paused batch's are held out). */
export const PENDING = `status = 'pending' AND NOT held`;

const CLAIM_SET = `status = 'in_progress', worker = $1, started_at = $2, lease_until = $3, attempts = attempts + 1`;

export const SQL = {
  get: `SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1`,
  getMany: `SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ANY($1::text[])`,
  listPending: `SELECT ${JOB_COLUMNS} FROM jobs WHERE ${PENDING} ORDER BY ${RUN_ORDER} LIMIT $1 OFFSET $2`,
  scanPending: `SELECT ${JOB_COLUMNS} FROM jobs WHERE status = 'pending' AND NOT held AND (created_at, id) > ($2, $3)
    ORDER BY created_at, id LIMIT $1`,
  listInProgress: `SELECT ${JOB_COLUMNS} FROM jobs WHERE status = 'in_progress' ORDER BY created_at, id`,
  counts: 'SELECT status, sum(n)::bigint AS n FROM job_counts GROUP BY status',

  /** $1 worker, $2 now, $3 lease, $4 excluded ids. Rows another transaction holds are skipped, not waited for. */
  claimNext: `UPDATE jobs SET ${CLAIM_SET}
    WHERE id = (SELECT id FROM jobs WHERE ${PENDING} AND id <> ALL($4::text[])
                ORDER BY ${RUN_ORDER} LIMIT 1 FOR UPDATE SKIP LOCKED)
      AND status = 'pending'
    RETURNING ${JOB_COLUMNS}`,
  /** $1 worker, $2 now, $3 lease, $4 id */
  claimJob: `UPDATE jobs SET ${CLAIM_SET} WHERE id = $4 AND status = 'pending' RETURNING ${JOB_COLUMNS}`,
  /** $1 worker, $2 ids, $3 lease */
  renewLeases: `UPDATE jobs SET lease_until = $3
    WHERE status = 'in_progress' AND worker = $1 AND id = ANY($2::text[])`,

  /**
   * $1 id, $2 status, $3 ended, $4 set outputs?, $5 outputs, $6 set error?, $7 error,
   * $8 holder (null: any), $9 attempt (null: any)
   */
  finish: `UPDATE jobs SET status = $2, ended_at = $3, lease_until = NULL,
      outputs = CASE WHEN $4::boolean THEN $5::text ELSE outputs END,
      error = CASE WHEN $6::boolean THEN $7::text ELSE error END
    WHERE id = $1 AND status = 'in_progress' AND ($8::text IS NULL OR worker = $8)
      AND ($9::integer IS NULL OR attempts = $9)
    RETURNING ${JOB_COLUMNS}`,
  /** $1 id, $2 status, $3 ended, $4 set outputs?, $5 outputs, $6 set error?, $7 error */
  finishPending: `UPDATE jobs SET status = $2, ended_at = $3,
      outputs = CASE WHEN $4::boolean THEN $5::text ELSE outputs END,
      error = CASE WHEN $6::boolean THEN $7::text ELSE error END
    WHERE id = $1 AND status = 'pending'
    RETURNING ${JOB_COLUMNS}`,
  /** $1 id, $2 set error?, $3 error, $4 holder (null: any), $5 attempt (null: any) */
  release: `UPDATE jobs SET status = 'pending', worker = NULL, lease_until = NULL, started_at = NULL,
      error = CASE WHEN $2::boolean THEN $3::text ELSE error END
    WHERE id = $1 AND status = 'in_progress' AND ($4::text IS NULL OR worker = $4)
      AND ($5::integer IS NULL OR attempts = $5)
    RETURNING ${JOB_COLUMNS}`,
  /** $1 id, $2 holder, $3 attempt (null: any), $4 error */
  retry: `UPDATE jobs SET status = 'pending', worker = NULL, lease_until = NULL, started_at = NULL,
      retries = retries + 1, error = $4
    WHERE id = $1 AND status = 'in_progress' AND worker = $2 AND ($3::integer IS NULL OR attempts = $3)
    RETURNING ${JOB_COLUMNS}`,

  /** The first queued place of a priority ($1), running jobs included (they may come back). */
  firstQueuedPosition: `SELECT least(
      (SELECT position FROM jobs WHERE ${PENDING} AND priority = $1 ORDER BY ${RUN_ORDER} LIMIT 1),
      (SELECT min(position) FROM jobs WHERE status = 'in_progress' AND priority = $1)) AS position`,
  /** $1 ids: the listed pending jobs, locked for the reorder */
  pendingPlaces: `SELECT id, priority FROM jobs WHERE id = ANY($1::text[]) AND status = 'pending' FOR UPDATE`,
  /** $1 ids, $2 positions, $3 fair-share tag */
  setPositions: `UPDATE jobs SET position = v.position, fair = $3
    FROM unnest($1::text[], $2::double precision[]) AS v(id, position)
    WHERE jobs.id = v.id AND jobs.status = 'pending'`,
  /** $1 id: the pending job, locked for its new priority */
  pendingRow: `SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1 AND status = 'pending' FOR UPDATE`,
  /** $1 id, $2 priority, $3 fair-share tag */
  setPriority: `UPDATE jobs SET priority = $2, fair = $3 WHERE id = $1 AND status = 'pending' RETURNING ${JOB_COLUMNS}`,
  rename: `UPDATE jobs SET name = $2 WHERE id = $1 RETURNING ${JOB_COLUMNS}`,
  setWords: `UPDATE jobs SET search = array_to_tsvector(string_to_array($2, ' ')) WHERE id = $1`,
  setFlagged: `UPDATE jobs SET flagged = $2 WHERE id = $1 RETURNING ${JOB_COLUMNS}`,
  delete: 'DELETE FROM jobs WHERE id = ANY($1::text[]) AND status = ANY($2::text[]) RETURNING id',

  existingIds: 'SELECT id FROM jobs WHERE id = ANY($1::text[])',
  /** $1 count: that many fresh positions from the sequence */
  positions: `SELECT nextval('job_positions')::double precision AS p FROM generate_series(1, $1)`,
  /** Keeps the sequence above an explicit position ($1), so appended jobs still go after it. */
  raisePositions: `SELECT setval('job_positions', $1::bigint)
    WHERE $1::bigint > (SELECT last_value FROM job_positions)`,
  /** Columns as arrays, one element per job, inserted in their order; a taken id is skipped. */
  insert: `INSERT INTO jobs (id, name, prompt, workflow, extra_data, sensitive, client_id, priority, position,
      status, created_at, targets, requeued_from, requires, workflow_id, search, owner, fair)
    SELECT id, name, prompt, workflow, extra_data, sensitive, client_id, priority, position,
      'pending', created_at, targets, requeued_from, requires, workflow_id,
      array_to_tsvector(string_to_array(words, ' ')), owner, fair
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                $8::integer[], $9::double precision[], $10::bigint[], $11::text[], $12::text[], $13::text[],
                $14::text[], $15::text[], $16::text[], $17::double precision[])
      WITH ORDINALITY AS t(id, name, prompt, workflow, extra_data, sensitive, client_id, priority, position,
                          created_at, targets, requeued_from, requires, workflow_id, words, owner, fair, ord)
    ORDER BY ord
    ON CONFLICT (id) DO NOTHING
    RETURNING id`,

  getSetting: 'SELECT value FROM settings WHERE key = $1',
  setSetting: `INSERT INTO settings (key, value) VALUES ($1, $2)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
} as const;
