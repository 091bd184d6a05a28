/**
 * Fair-share start tags on PostgreSQL (migration 0003), as on SQLite
 * (sqlite/fair-share.ts): the virtual clock of each priority (the max of its
 * 16 slots) and the last finish tag of each group. `take` locks the group's
 * row until the caller's transaction ends, so two writers never hand out the
 * same tags of one group; the clock is read without a lock (a claim that
 * raises it meanwhile only makes the new tags a little earlier).
 */
import { batchGroup, ownerGroup } from '../sqlite/fair-share.js';
import { type Queryable, rowsOf } from './queryable.js';

export { batchGroup, ownerGroup };

/** What a group asks for: `n` jobs at `priority`, each adding 1/weight. */
export interface FairTake {
  grp: string;
  priority: number;
  weight: number;
  n: number;
}

/**
 * Start tags for several groups at once, in one round trip each way: resolves
 * the first tag of each take (start, start + 1/weight, … are the group's);
 * each group's finish tag moves past its last. Takes of one (group, priority)
 * must be merged by the caller.
 */
export async function takeTags(db: Queryable, takes: readonly FairTake[]): Promise<number[]> {
  if (takes.length === 0) return [];
  // Locks each group's row (a new one is created at −∞) and reads its finish tag with the clock.
  // Rows are locked in (priority, group) order, so two writers taking the same groups never deadlock.
  const rows = await rowsOf<{ grp: string; priority: number; finish: number; clock: number | null }>(
    db,
    `WITH g AS (
       INSERT INTO fair_groups (grp, priority, finish)
       SELECT grp, priority, '-Infinity' FROM unnest($1::text[], $2::integer[]) AS t(grp, priority)
       ORDER BY priority, grp
       ON CONFLICT (grp, priority) DO UPDATE SET finish = fair_groups.finish
       RETURNING grp, priority, finish)
     SELECT g.grp, g.priority, g.finish, (SELECT max(v) FROM fair_clock c WHERE c.priority = g.priority) AS clock
     FROM g`,
    [takes.map((t) => t.grp), takes.map((t) => t.priority)],
  );
  const found = new Map(rows.map((r) => [`${r.priority}:${r.grp}`, r]));
  const starts = takes.map((t) => {
    const r = found.get(`${t.priority}:${t.grp}`);
    const clock = r?.clock ?? 0;
    return Math.max(clock, r?.finish ?? clock);
  });
  await db.query(
    `UPDATE fair_groups SET finish = t.finish
     FROM unnest($1::text[], $2::integer[], $3::double precision[]) AS t(grp, priority, finish)
     WHERE fair_groups.grp = t.grp AND fair_groups.priority = t.priority`,
    [takes.map((t) => t.grp), takes.map((t) => t.priority), takes.map((t, i) => starts[i]! + t.n / t.weight)],
  );
  return starts;
}

/** Start tags for `n` jobs of one group: resolves the first. */
export async function take(
  db: Queryable,
  grp: string,
  priority: number,
  weight: number,
  n: number,
): Promise<number> {
  return (await takeTags(db, [{ grp, priority, weight, n }]))[0]!;
}

/** A tag at or before every pending job of this priority: for a job put at the front. */
export async function frontTag(db: Queryable, priority: number): Promise<number> {
  const [r] = await rowsOf<{ head: number | null; clock: number | null }>(
    db,
    `SELECT (SELECT fair FROM jobs WHERE status = 'pending' AND NOT held AND priority = $1
             ORDER BY priority DESC, fair LIMIT 1) AS head,
            (SELECT max(v) FROM fair_clock WHERE priority = $1) AS clock`,
    [priority],
  );
  const clock = r?.clock ?? 0;
  return r?.head === null || r?.head === undefined ? clock : Math.min(r.head, clock);
}

/** The tag of the first job of the same group after `job` in plain order at `priority`, if any. */
export async function successorTag(
  db: Queryable,
  job: {
    batch_id?: number | null;
    owner?: string | null;
    position: number;
    created_at: number;
    id: string;
  },
  priority: number,
): Promise<number | null> {
  const [r] = await rowsOf<{ fair: number }>(
    db,
    `SELECT fair FROM jobs WHERE status = 'pending' AND NOT held AND priority = $1
       AND (CASE WHEN $2::bigint IS NULL THEN batch_id IS NULL AND owner IS NOT DISTINCT FROM $3::text
                 ELSE batch_id = $2::bigint END)
       AND (position, created_at, id) > ($4::double precision, $5::bigint, $6::text)
     ORDER BY priority DESC, fair LIMIT 1`,
    [priority, job.batch_id ?? null, job.owner ?? null, job.position, job.created_at, job.id],
  );
  return r?.fair ?? null;
}

/** Forgets a group (a deleted batch). */
export async function forget(db: Queryable, grp: string): Promise<void> {
  await db.query('DELETE FROM fair_groups WHERE grp = $1', [grp]);
}
