/** The collections table (migration 0002) on PostgreSQL: where each completed job's outputs were copied. */
import type { CollectionRecord } from '../job-store.js';
import { type CollectionRow, rowToCollection } from '../record-rows.js';
import { JOB_COLUMNS, type PgJobRow } from './job-row.js';
import { type Queryable, rowsOf } from './queryable.js';

const COLUMNS = 'job_id, ended_at, state, target, files, attempts, error, updated_at';

/** A completed job with no record of this completion, or a pending one (probed on the primary key). */
const UNCOLLECTED = `status = 'completed' AND NOT EXISTS (
    SELECT 1 FROM collections c WHERE c.job_id = jobs.id AND c.ended_at = jobs.ended_at AND c.state <> 'pending')`;

const SQL = {
  /** $1 since, $2 limit. Walks jobs_status_ended. */
  uncollectedFirst: `SELECT ${JOB_COLUMNS} FROM jobs
    WHERE ${UNCOLLECTED} AND ended_at >= $1
    ORDER BY ended_at, id LIMIT $2`,
  /** $1 since, $2 limit, $3 $4 the keyset (ended_at, id) to go on after */
  uncollectedAfter: `SELECT ${JOB_COLUMNS} FROM jobs
    WHERE ${UNCOLLECTED} AND ended_at >= $1 AND (ended_at, id) > ($3::bigint, $4::text)
    ORDER BY ended_at, id LIMIT $2`,
  get: `SELECT ${COLUMNS} FROM collections WHERE job_id = ANY($1::text[])`,
  /**
   * The job row is locked (FOR SHARE) while the record is written: a run that ends again meanwhile
   * waits for this commit, or has committed first and the record matches nothing.
   */
  save: `WITH job AS (
      SELECT id FROM jobs WHERE id = $1 AND status = 'completed' AND ended_at = $2 FOR SHARE)
    INSERT INTO collections (${COLUMNS})
    SELECT id, $2, $3, $4, $5, $6, $7, $8 FROM job
    ON CONFLICT (job_id) DO UPDATE SET ended_at = excluded.ended_at, state = excluded.state,
      target = excluded.target, files = excluded.files, attempts = excluded.attempts,
      error = excluded.error, updated_at = excluded.updated_at`,
} as const;

/** The rows of the jobs (the store makes them Jobs, a batch item's graph derived from its batch). */
export async function listUncollected(
  db: Queryable,
  since: number,
  after: { endedAt: number; id: string } | null,
  limit: number,
): Promise<PgJobRow[]> {
  const n = Math.max(0, Math.trunc(limit));
  return after
    ? await rowsOf<PgJobRow>(db, SQL.uncollectedAfter, [since, n, after.endedAt, after.id])
    : await rowsOf<PgJobRow>(db, SQL.uncollectedFirst, [since, n]);
}

export async function getCollections(db: Queryable, jobIds: readonly string[]): Promise<CollectionRecord[]> {
  if (jobIds.length === 0) return [];
  return (await rowsOf<CollectionRow>(db, SQL.get, [jobIds])).map(rowToCollection);
}

/** False when the job is not completed with that ended_at (or is gone). */
export async function saveCollection(db: Queryable, r: CollectionRecord): Promise<boolean> {
  try {
    const res = await db.query(SQL.save, [
      r.jobId,
      r.endedAt,
      r.state,
      r.target,
      JSON.stringify(r.files),
      r.attempts,
      r.error,
      r.updatedAt,
    ]);
    return (res.rowCount ?? 0) > 0;
  } catch (err) {
    // foreign_key_violation: the job was deleted between the lock and the insert.
    if ((err as { code?: string }).code === '23503') return false;
    throw err;
  }
}
