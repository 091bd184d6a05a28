/** The thumbnails table on PostgreSQL: one PNG (bytea) per job, apart from the job rows; totals kept in slots. */
import type { NewThumbnail, Thumbnail, ThumbnailTotals } from '../job-store.js';
import { type Queryable, rowsOf } from './queryable.js';

interface ThumbRow {
  png: Buffer;
  width: number;
  height: number;
  bytes: number;
  created_at: number;
}

export async function getThumbnail(db: Queryable, jobId: string): Promise<Thumbnail | null> {
  const [r] = await rowsOf<ThumbRow>(
    db,
    'SELECT png, width, height, bytes, created_at FROM thumbnails WHERE job_id = $1',
    [jobId],
  );
  return r ? { png: r.png, width: r.width, height: r.height, bytes: r.bytes, createdAt: r.created_at } : null;
}

export async function withThumbnails(db: Queryable, jobIds: readonly string[]): Promise<Set<string>> {
  if (jobIds.length === 0) return new Set();
  const rows = await rowsOf<{ job_id: string }>(
    db,
    'SELECT job_id FROM thumbnails WHERE job_id = ANY($1::text[])',
    [jobIds],
  );
  return new Set(rows.map((r) => r.job_id));
}

/** Only for a job that still exists: a job deleted while its thumbnail was made gets none. */
export async function putThumbnail(db: Queryable, jobId: string, t: NewThumbnail): Promise<boolean> {
  const r = await db.query(
    `INSERT INTO thumbnails (job_id, png, width, height, bytes, created_at)
     SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM jobs WHERE id = $1)
     ON CONFLICT (job_id) DO UPDATE SET png = excluded.png, width = excluded.width,
       height = excluded.height, bytes = excluded.bytes, created_at = excluded.created_at`,
    [jobId, t.png, t.width, t.height, t.png.length, t.createdAt],
  );
  return (r.rowCount ?? 0) > 0;
}

export async function thumbnailTotals(db: Queryable): Promise<ThumbnailTotals> {
  const [r] = await rowsOf<{ n: number | null; bytes: number | null }>(
    db,
    'SELECT sum(n)::bigint AS n, sum(bytes)::bigint AS bytes FROM thumbnail_totals',
  );
  return { count: r?.n ?? 0, bytes: r?.bytes ?? 0 };
}

export async function deleteOldestThumbnails(db: Queryable, limit: number): Promise<number> {
  const r = await db.query(
    `DELETE FROM thumbnails WHERE job_id IN (
       SELECT job_id FROM thumbnails ORDER BY created_at, job_id LIMIT $1 FOR UPDATE SKIP LOCKED)`,
    [Math.max(0, Math.trunc(limit))],
  );
  return r.rowCount ?? 0;
}
