/**
 * Writing a batch of enqueue calls on PostgreSQL, inside the caller's
 * transaction, in arrival order. Consecutive plain calls go in one
 * multi-row INSERT; an all-or-nothing call gets a savepoint of its own, so
 * that a refused call leaves the rest of the batch alone; a job put at the
 * front is placed with the queue-order lock held (placement.ts).
 * Positions of appended jobs come from the `job_positions` sequence; each
 * job's fair-share tag from its owner's group (fair-share.ts), or a tag at
 * the front for a job put there.
 */
import type { NewJob } from '../../domain/job.js';
import type { EnqueueResult } from '../job-store.js';
import { newJobAsStored } from '../sqlite/job-row.js';
import { frontTag, ownerGroup, takeTags } from './fair-share.js';
import type { PgInsert } from './job-row.js';
import { lockQueueOrder } from './placement.js';
import { type Queryable, rowsOf } from './queryable.js';
import { SQL } from './statements.js';

export interface PendingInsert {
  job: NewJob;
  params: PgInsert;
}

/** One enqueue call in a group-commit batch. */
export interface EnqueueCall {
  jobs: PendingInsert[];
  allOrNothing: boolean;
}

export async function writeEnqueueBatch(
  db: Queryable,
  calls: readonly EnqueueCall[],
  schema: string,
): Promise<EnqueueResult[][]> {
  const out: EnqueueResult[][] = [];
  let run: EnqueueCall[] = [];
  const flushRun = async () => {
    if (run.length === 0) return;
    const results = await insertJobs(
      db,
      run.flatMap((c) => c.jobs),
      schema,
    );
    let at = 0;
    for (const call of run) {
      out.push(results.slice(at, at + call.jobs.length));
      at += call.jobs.length;
    }
    run = [];
  };
  for (const call of calls) {
    if (!call.allOrNothing) {
      run.push(call);
      continue;
    }
    await flushRun();
    await db.query('SAVEPOINT enqueue_call');
    const results = await insertJobs(db, call.jobs, schema);
    if (results.every((r) => r.ok)) {
      await db.query('RELEASE SAVEPOINT enqueue_call');
      out.push(results);
      continue;
    }
    await db.query('ROLLBACK TO SAVEPOINT enqueue_call');
    await db.query('RELEASE SAVEPOINT enqueue_call');
    out.push(
      results.map(
        (r): EnqueueResult =>
          r.ok ? { ok: false, code: 'NOT_STORED', id: r.job.id } : { ok: false, code: r.code, id: r.id },
      ),
    );
  }
  await flushRun();
  return out;
}

/**
 * Inserts jobs in order and answers each one's result. Jobs put at the front
 * are placed one at a time (each goes ahead of the one before); the others
 * share one INSERT.
 */
async function insertJobs(
  db: Queryable,
  jobs: readonly PendingInsert[],
  schema: string,
): Promise<EnqueueResult[]> {
  const results: EnqueueResult[] = [];
  let plain: PendingInsert[] = [];
  const flushPlain = async () => {
    if (plain.length > 0) results.push(...(await insertPlain(db, plain)));
    plain = [];
  };
  let orderLocked = false;
  for (const p of jobs) {
    if (!p.job.front || p.job.position != null) {
      plain.push(p);
      continue;
    }
    await flushPlain();
    if (!orderLocked) await lockQueueOrder(db, schema);
    orderLocked = true;
    const [first] = await rowsOf<{ position: number | null }>(db, SQL.firstQueuedPosition, [p.job.priority]);
    if (first?.position === null || first?.position === undefined) {
      results.push(...(await insertPlain(db, [p])));
      continue;
    }
    results.push(...(await insertRows(db, [p], [first.position - 1], [await frontTag(db, p.job.priority)])));
  }
  await flushPlain();
  return results;
}

/**
 * Appends jobs (fresh positions from the sequence) or places them where they
 * say. Ids already stored, or given twice, are found first, so that they
 * take no position: positions stay dense unless another server stores the
 * same id at the same moment (then ON CONFLICT refuses it, and its position
 * is a gap).
 */
async function insertPlain(db: Queryable, jobs: readonly PendingInsert[]): Promise<EnqueueResult[]> {
  const taken = new Set(
    (await rowsOf<{ id: string }>(db, SQL.existingIds, [jobs.map((p) => p.job.id)])).map((r) => r.id),
  );
  const fresh: PendingInsert[] = [];
  for (const p of jobs) {
    if (taken.has(p.job.id)) continue;
    taken.add(p.job.id);
    fresh.push(p);
  }
  const stored = new Map<PendingInsert, EnqueueResult>();
  if (fresh.length > 0) {
    const appended = fresh.filter((p) => p.job.position == null).length;
    const seq =
      appended === 0
        ? []
        : (await rowsOf<{ p: number }>(db, SQL.positions, [appended])).map((r) => r.p).sort((a, b) => a - b);
    let next = 0;
    const positions = fresh.map((p) => p.job.position ?? seq[next++]!);
    const explicit = fresh.filter((p) => p.job.position != null).map((p) => p.job.position!);
    const highest = explicit.length ? Math.ceil(Math.max(...explicit)) : null;
    if (highest !== null && Number.isSafeInteger(highest)) await db.query(SQL.raisePositions, [highest]);
    const results = await insertRows(db, fresh, positions, await ownerTags(db, fresh));
    fresh.forEach((p, i) => {
      stored.set(p, results[i]!);
    });
  }
  return jobs.map((p) => stored.get(p) ?? { ok: false, code: 'DUPLICATE_ID', id: p.job.id });
}

/** Each job's start tag in its owner's group, one after the other in the order given (weight 1). */
async function ownerTags(db: Queryable, jobs: readonly PendingInsert[]): Promise<number[]> {
  const keyOf = (p: PendingInsert) => `${p.job.priority}:${ownerGroup(p.params.owner)}`;
  const takes = new Map<string, { grp: string; priority: number; weight: number; n: number }>();
  for (const p of jobs) {
    const t = takes.get(keyOf(p));
    if (t) t.n++;
    else takes.set(keyOf(p), { grp: ownerGroup(p.params.owner), priority: p.job.priority, weight: 1, n: 1 });
  }
  const starts = await takeTags(db, [...takes.values()]);
  const next = new Map([...takes.keys()].map((k, i) => [k, starts[i]!]));
  return jobs.map((p) => {
    const tag = next.get(keyOf(p))!;
    next.set(keyOf(p), tag + 1);
    return tag;
  });
}

async function insertRows(
  db: Queryable,
  jobs: readonly PendingInsert[],
  positions: readonly number[],
  tags: readonly number[],
): Promise<EnqueueResult[]> {
  const col = <K extends keyof PgInsert>(k: K) => jobs.map((p) => p.params[k]);
  const inserted = new Set(
    (
      await rowsOf<{ id: string }>(db, SQL.insert, [
        col('id'),
        col('name'),
        col('prompt'),
        col('workflow'),
        col('extra_data'),
        col('sensitive'),
        col('client_id'),
        col('priority'),
        positions,
        col('created_at'),
        col('targets'),
        col('requeued_from'),
        col('requires'),
        col('workflow_id'),
        col('words'),
        col('owner'),
        tags,
      ])
    ).map((r) => r.id),
  );
  // An id given twice in one statement is stored once, from its first row.
  return jobs.map((p, i): EnqueueResult => {
    if (!inserted.delete(p.job.id)) return { ok: false, code: 'DUPLICATE_ID', id: p.job.id };
    return { ok: true, job: newJobAsStored(p.job, positions[i]!, tags[i]!) };
  });
}
