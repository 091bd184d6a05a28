/** The statements of `placePending`: a pending job's place (priority, fair-share tag, position) set in one write. */
import type Database from 'better-sqlite3';

export function preparePlacement(db: Database.Database) {
  const place = db.prepare<[priority: number, fair: number, position: number, id: string]>(
    `UPDATE jobs SET priority = ?, fair = ?, position = ? WHERE id = ? AND status = 'pending'`,
  );
  return {
    /** Runs inside the caller's transaction; resolves how many jobs were still pending and moved. */
    run(placements: readonly { id: string; priority: number; fair: number; position: number }[]): number {
      let moved = 0;
      for (const p of placements) moved += place.run(p.priority, p.fair, p.position, p.id).changes;
      return moved;
    },
  };
}
