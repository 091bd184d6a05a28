/** `placePending` on PostgreSQL: pending jobs' places (priority, position) set in one statement. */
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
 *
 * Fair share: there is no `fair` column on PostgreSQL yet, so a placement's `fair` tag is not
 * stored. When the column comes, write it here beside priority and position
 * (`fair = v.fair`, from a `$4::double precision[]` of `placements.map((p) => p.fair)`).
 */
export async function placePending(db: Queryable, placements: readonly Placement[]): Promise<number> {
  if (placements.length === 0) return 0;
  const res = await db.query(
    `UPDATE jobs SET priority = v.priority, position = v.position
     FROM unnest($1::text[], $2::integer[], $3::double precision[]) AS v(id, priority, position)
     WHERE jobs.id = v.id AND jobs.status = 'pending'`,
    [placements.map((p) => p.id), placements.map((p) => p.priority), placements.map((p) => p.position)],
  );
  return res.rowCount ?? 0;
}
