/** The workers table (migration 0005) on SQLite: one row per registered worker. */
import type Database from 'better-sqlite3';
import type { WorkerRecord, WorkerTotals } from '../job-store.js';
import { rowToWorker, type WorkerRow } from '../record-rows.js';

export class SqliteWorkers {
  private readonly s;

  constructor(db: Database.Database) {
    this.s = {
      list: db.prepare<[], WorkerRow>('SELECT * FROM workers ORDER BY created_at, id'),
      save: db.prepare<WorkerRow>(
        `INSERT INTO workers (id, kind, source, url, tags, capacity, mode, health, created_at, updated_at)
         VALUES (@id, @kind, @source, @url, @tags, @capacity, @mode, @health, @created_at, @updated_at)
         ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, source = excluded.source, url = excluded.url,
           tags = excluded.tags,
           capacity = excluded.capacity, mode = excluded.mode, health = excluded.health,
           updated_at = excluded.updated_at`,
      ),
      delete: db.prepare<[string]>('DELETE FROM workers WHERE id = ?'),
      totals: db.prepare<
        { since: number },
        { worker: string; completed: number; failed: number; mean_ms: number | null; busy_ms: number }
      >(
        `SELECT worker,
                SUM(status = 'completed') AS completed,
                SUM(status = 'failed') AS failed,
                AVG(CASE WHEN status = 'completed' THEN ended_at - started_at END) AS mean_ms,
                COALESCE(SUM(ended_at - MAX(started_at, @since)), 0) AS busy_ms
         FROM jobs
         WHERE worker IS NOT NULL AND ended_at >= @since AND started_at IS NOT NULL
           AND status IN ('completed', 'failed', 'cancelled')
         GROUP BY worker`,
      ),
    };
  }

  list(): WorkerRecord[] {
    return this.s.list.all().map(rowToWorker);
  }

  save(w: WorkerRecord): void {
    this.s.save.run({
      id: w.id,
      kind: w.kind,
      source: w.source,
      url: w.url,
      tags: JSON.stringify(w.tags),
      capacity: w.capacity,
      mode: w.mode,
      health: JSON.stringify(w.health),
      created_at: w.createdAt,
      updated_at: w.updatedAt,
    });
  }

  delete(id: string): boolean {
    return this.s.delete.run(id).changes > 0;
  }

  totals(since: number): WorkerTotals[] {
    return this.s.totals.all({ since }).map((r) => ({
      worker: r.worker,
      completed: r.completed,
      failed: r.failed,
      meanMs: r.mean_ms === null ? null : Math.round(r.mean_ms),
      busyMs: r.busy_ms,
    }));
  }
}
