/** `placePending` on PostgreSQL: pending jobs' places (priority, fair-share tag, position) set in one statement. */
import type { Queryable } from './queryable.js';

export interface Placement {
  id: string;
  priority: number;
  fair: number;
  position: number;
}

/**
 * Runs in the caller's transaction, after it took the queue-order lock (placement.ts); resolves
 * how many jobs were still pending and moved.
 */
export async function placePending(db: Queryable, placements: readonly Placement[]): Promise<number> {
  if (placements.length === 0) return 0;
  const res = await db.query(
    `UPDATE jobs SET priority = v.priority, fair = v.fair, position = v.position
     FROM unnest($1::text[], $2::integer[], $3::double precision[], $4::double precision[])
       AS v(id, priority, position, fair)
     WHERE jobs.id = v.id AND jobs.status = 'pending'`,
    [
      placements.map((p) => p.id),
      placements.map((p) => p.priority),
      placements.map((p) => p.position),
      placements.map((p) => p.fair),
    ],
  );
  return res.rowCount ?? 0;
}
