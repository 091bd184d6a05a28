/**
 * Fair-share start tags on SQLite (migration 0007): the virtual clock of
 * each priority and the last finish tag of each group. Every method runs
 * inside the caller's write transaction.
 */
import type Database from 'better-sqlite3';

/** The fair-share group of a single job: its owner (or its client id); '' when it has neither. */
export function ownerGroup(owner: string | null | undefined): string {
  return `o:${owner ?? ''}`;
}

export function batchGroup(batchId: number): string {
  return `b:${batchId}`;
}

export class FairShare {
  private readonly clockOf: Database.Statement<[priority: number], { v: number }>;
  private readonly finishOf: Database.Statement<[grp: string, priority: number], { finish: number }>;
  private readonly setFinish: Database.Statement<[grp: string, priority: number, finish: number]>;
  private readonly headOf: Database.Statement<[priority: number], { fair: number }>;
  private readonly dropGroup: Database.Statement<[grp: string]>;
  private readonly successorOf: Database.Statement<Record<string, unknown>, { fair: number }>;

  constructor(db: Database.Database) {
    this.clockOf = db.prepare('SELECT v FROM fair_clock WHERE priority = ?');
    this.finishOf = db.prepare('SELECT finish FROM fair_groups WHERE grp = ? AND priority = ?');
    this.setFinish = db.prepare(
      `INSERT INTO fair_groups (grp, priority, finish) VALUES (?, ?, ?)
       ON CONFLICT (grp, priority) DO UPDATE SET finish = excluded.finish`,
    );
    this.headOf = db.prepare(
      `SELECT fair FROM jobs INDEXED BY jobs_run_order WHERE status = 'pending' AND held = 0 AND priority = ?
       ORDER BY priority DESC, fair LIMIT 1`,
    );
    this.dropGroup = db.prepare('DELETE FROM fair_groups WHERE grp = ?');
    this.successorOf = db.prepare(
      `SELECT fair FROM jobs INDEXED BY jobs_run_order WHERE status = 'pending' AND held = 0 AND priority = @priority
         AND (CASE WHEN @batch IS NULL THEN batch_id IS NULL AND owner IS @owner ELSE batch_id = @batch END)
         AND (position, created_at, id) > (@position, @created, @id)
       ORDER BY priority DESC, fair LIMIT 1`,
    );
  }

  /**
   * Start tags for `n` jobs of `grp` at `priority` (start, start + 1/weight, …):
   * resolves the first; the group's finish tag moves past the last.
   */
  take(grp: string, priority: number, weight: number, n: number): number {
    const clock = this.clockOf.get(priority)?.v ?? 0;
    const finish = this.finishOf.get(grp, priority)?.finish ?? clock;
    const start = Math.max(clock, finish);
    this.setFinish.run(grp, priority, start + n / weight);
    return start;
  }

  /** A tag at or before every pending job of this priority: for a job put at the front. */
  front(priority: number): number {
    const clock = this.clockOf.get(priority)?.v ?? 0;
    const head = this.headOf.get(priority)?.fair;
    return head === undefined ? clock : Math.min(head, clock);
  }

  /** The tag of the first job of the same group after `job` in plain order at `priority`, if any. */
  successor(
    job: {
      batch_id?: number | null;
      owner?: string | null;
      position: number;
      created_at: number;
      id: string;
    },
    priority: number,
  ): number | null {
    return (
      this.successorOf.get({
        priority,
        batch: job.batch_id ?? null,
        owner: job.owner ?? null,
        position: job.position,
        created: job.created_at,
        id: job.id,
      })?.fair ?? null
    );
  }

  /** Forgets a group (a deleted batch). */
  forget(grp: string): void {
    this.dropGroup.run(grp);
  }
}
