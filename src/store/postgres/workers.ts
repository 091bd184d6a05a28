/** The workers table on PostgreSQL: one row per registered worker, and their totals from the jobs. */
import type { WorkerRecord, WorkerTotals } from '../job-store.js';
import { rowToWorker, type WorkerRow } from '../record-rows.js';
import { type Queryable, rowsOf } from './queryable.js';

export async function listWorkers(db: Queryable): Promise<WorkerRecord[]> {
  return (await rowsOf<WorkerRow>(db, 'SELECT * FROM workers ORDER BY created_at, id')).map(rowToWorker);
}

export async function saveWorker(db: Queryable, w: WorkerRecord): Promise<void> {
  await db.query(
    `INSERT INTO workers (id, kind, source, url, tags, capacity, mode, health, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, source = excluded.source, url = excluded.url,
       tags = excluded.tags, capacity = excluded.capacity, mode = excluded.mode, health = excluded.health,
       updated_at = excluded.updated_at`,
    [
      w.id,
      w.kind,
      w.source,
      w.url,
      JSON.stringify(w.tags),
      w.capacity,
      w.mode,
      JSON.stringify(w.health),
      w.createdAt,
      w.updatedAt,
    ],
  );
}

export async function deleteWorker(db: Queryable, id: string): Promise<boolean> {
  return ((await db.query('DELETE FROM workers WHERE id = $1', [id])).rowCount ?? 0) > 0;
}

export async function workerTotals(db: Queryable, since: number): Promise<WorkerTotals[]> {
  const rows = await rowsOf<{
    worker: string;
    completed: number;
    failed: number;
    mean_ms: number | null;
    busy_ms: number;
  }>(
    db,
    `SELECT worker,
            count(*) FILTER (WHERE status = 'completed') AS completed,
            count(*) FILTER (WHERE status = 'failed') AS failed,
            (avg(ended_at - started_at) FILTER (WHERE status = 'completed'))::double precision AS mean_ms,
            coalesce(sum(ended_at - greatest(started_at, $1)), 0)::bigint AS busy_ms
     FROM jobs
     WHERE worker IS NOT NULL AND ended_at >= $1 AND started_at IS NOT NULL
       AND status IN ('completed', 'failed', 'cancelled')
     GROUP BY worker
     ORDER BY worker`,
    [since],
  );
  return rows.map((r) => ({
    worker: r.worker,
    completed: r.completed,
    failed: r.failed,
    meanMs: r.mean_ms === null ? null : Math.round(r.mean_ms),
    busyMs: r.busy_ms,
  }));
}
