/**
 * Where a job lands in the queue on PostgreSQL. Appending needs no lock (the
 * sequence orders it); putting a job at the front or reordering reads the
 * first queued place of a priority and writes below it, so those hold a
 * transaction advisory lock: two of them at once cannot pick the same place.
 */
import { LOCK_SPACE } from './migrate.js';
import type { Queryable } from './queryable.js';

export async function lockQueueOrder(db: Queryable, schema: string): Promise<void> {
  await db.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_SPACE, `order:${schema}`]);
}
