/** The thumbnails table (migration 0003) on SQLite: one PNG per job, kept apart from the job rows. */
import type Database from 'better-sqlite3';
import type { NewThumbnail, Thumbnail, ThumbnailTotals } from '../job-store.js';

interface ThumbRow {
  png: Buffer;
  width: number;
  height: number;
  bytes: number;
  created_at: number;
}

export class SqliteThumbnails {
  private readonly s;

  constructor(db: Database.Database) {
    this.s = {
      get: db.prepare<[string], ThumbRow>(
        'SELECT png, width, height, bytes, created_at FROM thumbnails WHERE job_id = ?',
      ),
      // Only for a job that still exists: a job deleted while its thumbnail was made gets none.
      put: db.prepare<{ id: string; png: Buffer; width: number; height: number; bytes: number; at: number }>(
        `INSERT INTO thumbnails (job_id, png, width, height, bytes, created_at)
         SELECT @id, @png, @width, @height, @bytes, @at WHERE EXISTS (SELECT 1 FROM jobs WHERE id = @id)
         ON CONFLICT (job_id) DO UPDATE SET png = excluded.png, width = excluded.width,
           height = excluded.height, bytes = excluded.bytes, created_at = excluded.created_at`,
      ),
      having: db.prepare<[string], { job_id: string }>(
        'SELECT job_id FROM thumbnails WHERE job_id IN (SELECT value FROM json_each(?))',
      ),
      totals: db.prepare<[], { n: number; bytes: number }>(
        'SELECT n, bytes FROM thumbnail_totals WHERE id = 1',
      ),
      deleteOldest: db.prepare<[number], { job_id: string }>(
        `DELETE FROM thumbnails WHERE job_id IN (
           SELECT job_id FROM thumbnails ORDER BY created_at, job_id LIMIT ?) RETURNING job_id`,
      ),
    };
  }

  get(jobId: string): Thumbnail | null {
    const r = this.s.get.get(jobId);
    return r
      ? { png: r.png, width: r.width, height: r.height, bytes: r.bytes, createdAt: r.created_at }
      : null;
  }

  having(jobIds: readonly string[]): Set<string> {
    if (jobIds.length === 0) return new Set();
    return new Set(this.s.having.all(JSON.stringify(jobIds)).map((r) => r.job_id));
  }

  put(jobId: string, t: NewThumbnail): boolean {
    return (
      this.s.put.run({
        id: jobId,
        png: t.png,
        width: t.width,
        height: t.height,
        bytes: t.png.length,
        at: t.createdAt,
      }).changes > 0
    );
  }

  totals(): ThumbnailTotals {
    const r = this.s.totals.get();
    return { count: r?.n ?? 0, bytes: r?.bytes ?? 0 };
  }

  deleteOldest(limit: number): number {
    return this.s.deleteOldest.all(Math.max(0, Math.trunc(limit))).length;
  }
}
