/**
 * Batches on PostgreSQL (migration 0003), as on SQLite (sqlite/batches.ts):
 * one `batches` row and one `jobs` row per item holding no graph (`prompt` =
 * ''); an item's graph is derived when the row is read (BatchParts below).
 * Creating a batch inserts every item in one statement over
 * generate_series. Write functions run inside the caller's transaction.
 */
import { type BatchSpec, batchTotal, materialise } from '../../domain/batch-spec.js';
import type { FinishedBucket } from '../../domain/batch-throughput.js';
import type { TrackerStatus } from '../../domain/tracker-status.js';
import {
  type CountGroup,
  type FinishedGroup,
  tallyBatchCounts,
  tallyFinishedBuckets,
} from '../batch-counts.js';
import type {
  BatchCounts,
  BatchItemQuery,
  BatchPatch,
  BatchRecord,
  MinuteCount,
  NewBatch,
  RerunSelection,
} from '../batch-types.js';
import type { BatchPart, BatchResolver } from '../sqlite/job-row.js';
import { batchGroup, forget, take } from './fair-share.js';
import { JOB_COLUMNS, type PgJobRow } from './job-row.js';
import { type Queryable, rowsOf } from './queryable.js';

interface BatchRow {
  id: number;
  name: string;
  template: string;
  workflow: string | null;
  extra_data: string;
  spec: string;
  total: number;
  priority: number;
  weight: number;
  requires: string | null;
  client_id: string | null;
  paused: boolean;
  created_at: number;
}

interface Cached {
  name: string;
  template: string;
  spec: BatchSpec;
  workflow: unknown | null;
  extraData: Record<string, unknown>;
}

/** Items whose derived graph is kept (as JSON): the scheduler reads the same pending window again and again. */
const GRAPHS_KEPT = 2_048;
const BATCHES_KEPT = 256;

/**
 * The parsed template of each batch, for deriving its items' graphs. The
 * driver is asynchronous and a row's conversion is not: `load` fetches the
 * batches of a set of rows first (one query for those not kept), then
 * `resolver` derives from memory.
 */
export class BatchParts {
  private readonly cache = new Map<number, Cached>();
  private readonly graphs = new Map<string, string>();

  /** Makes the batches of these rows known to `resolver`. */
  async load(db: Queryable, rows: readonly PgJobRow[]): Promise<void> {
    const missing = new Set<number>();
    for (const r of rows) {
      const id = r.batch_id ?? r.batch_past ?? null;
      if (id !== null && r.prompt === '' && !this.cache.has(id)) missing.add(id);
    }
    if (missing.size === 0) return;
    const found = await rowsOf<BatchRow>(db, 'SELECT * FROM batches WHERE id = ANY($1::bigint[])', [
      [...missing],
    ]);
    for (const row of found) this.keep(row);
  }

  readonly resolver: BatchResolver = (batchId, index): BatchPart => {
    const b = this.cache.get(batchId);
    if (!b)
      return { prompt: {}, workflow: null, extraData: {}, name: `batch ${batchId}/${index}`, batchName: '' };
    const key = `${batchId}:${index}`;
    let graph = this.graphs.get(key);
    if (graph === undefined) {
      graph = JSON.stringify(materialise(b.template, b.spec, b.name, index));
      if (this.graphs.size >= GRAPHS_KEPT) this.graphs.delete(this.graphs.keys().next().value!);
      this.graphs.set(key, graph);
    }
    // Parsed anew for each read, as a stored graph is: no caller shares another's object.
    return {
      prompt: JSON.parse(graph),
      workflow: b.workflow,
      extraData: b.extraData,
      name: `${b.name}/${index}`,
      batchName: b.name,
    };
  };

  /** Forgets a batch's cached template and graphs (renamed or deleted). */
  drop(batchId: number): void {
    this.cache.delete(batchId);
    for (const key of this.graphs.keys()) if (key.startsWith(`${batchId}:`)) this.graphs.delete(key);
  }

  private keep(row: BatchRow): void {
    if (this.cache.size >= BATCHES_KEPT) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(Number(row.id), {
      name: row.name,
      template: row.template,
      spec: JSON.parse(row.spec) as BatchSpec,
      workflow: row.workflow === null ? null : JSON.parse(row.workflow),
      extraData: JSON.parse(row.extra_data) as Record<string, unknown>,
    });
  }
}

function toRecord(r: BatchRow): BatchRecord {
  return {
    id: Number(r.id),
    name: r.name,
    total: r.total,
    priority: r.priority,
    weight: r.weight,
    paused: r.paused,
    requires: r.requires ? (JSON.parse(r.requires) as string[]) : [],
    clientId: r.client_id,
    createdAt: r.created_at,
    spec: JSON.parse(r.spec) as BatchSpec,
  };
}

/**
 * Whether a completed item's outputs of its latest run are stored where the server collects them
 * (migration 0002), or came with an external worker's report (stored with it: Outputs.collected).
 * The outputs are the server's own JSON text; the cheap test first spares most rows the cast.
 */
const STORED = `(status = 'completed' AND (EXISTS (SELECT 1 FROM collections c
  WHERE c.job_id = jobs.id AND c.state = 'stored' AND c.ended_at = jobs.ended_at)
  OR (outputs IS NOT NULL AND position('"external"' in outputs) > 0 AND outputs::jsonb ? 'external')))`;

const FINISHED_UNMARKED = `status = 'completed' AND NOT flagged AND tracker IS NULL`;

/**
 * SQL terms of a tracker status over a jobs row, as trackerStatus states it: while outputs are
 * collected, a completed item is `working` until they are stored.
 */
function trackerSql(status: TrackerStatus, collecting: boolean): string {
  switch (status) {
    case 'inactive':
      return `status = 'pending'`;
    case 'working':
      return collecting
        ? `(status = 'in_progress' OR (${FINISHED_UNMARKED} AND NOT ${STORED}))`
        : `status = 'in_progress'`;
    case 'complete':
      return collecting ? `${FINISHED_UNMARKED} AND ${STORED}` : FINISHED_UNMARKED;
    case 'done':
      return `status = 'completed' AND NOT flagged AND tracker = 'done'`;
    case 'error':
      return `status IN ('failed', 'cancelled') AND NOT flagged`;
    case 'flagged':
      return `flagged AND status IN ('completed', 'failed', 'cancelled')`;
  }
}

const COUNTS = `SELECT status, flagged, tracker, ${STORED} AS stored, count(*)::bigint AS n FROM jobs`;
const COUNT_GROUPS = 'GROUP BY status, flagged, tracker, stored';

/** Stores the batch and its items (their prompt_ids from `b.ids`) in the caller's transaction. */
export async function createBatch(db: Queryable, b: NewBatch): Promise<BatchRecord> {
  const total = batchTotal(b.spec);
  const requires = b.requires.length ? JSON.stringify(b.requires) : null;
  const [row] = await rowsOf<{ id: number }>(
    db,
    `INSERT INTO batches (name, template, workflow, extra_data, spec, total, priority, weight, requires,
       client_id, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
    [
      b.name,
      JSON.stringify(b.template),
      b.workflow === null || b.workflow === undefined ? null : JSON.stringify(b.workflow),
      JSON.stringify(b.extraData),
      JSON.stringify(b.spec),
      total,
      b.priority,
      b.weight,
      requires,
      b.clientId,
      b.createdAt,
    ],
  );
  const batchId = Number(row!.id);
  const start = await take(db, batchGroup(batchId), b.priority, b.weight, total);
  // Every item in one statement; positions from the sequence, in item order.
  await db.query(
    `INSERT INTO jobs (id, prompt, extra_data, priority, position, status, created_at, requires,
       batch_id, batch_index, fair)
     SELECT $1 || lpad(to_hex($2::bigint + i), 12, '0'), '', '{}', $3, nextval('job_positions'), 'pending', $4,
       $5, $6, i + 1, $7::double precision + i * $8::double precision
     FROM generate_series(0, $9::integer - 1) AS i`,
    [b.ids.prefix, b.ids.first, b.priority, b.createdAt, requires, batchId, start, 1 / b.weight, total],
  );
  // From what was given: reading the stored spec back would parse every item's traits again.
  return {
    id: batchId,
    name: b.name,
    total,
    priority: b.priority,
    weight: b.weight,
    paused: false,
    requires: b.requires,
    clientId: b.clientId,
    createdAt: b.createdAt,
    spec: b.spec,
  };
}

export async function getBatch(db: Queryable, id: number): Promise<BatchRecord | null> {
  const [r] = await rowsOf<BatchRow>(db, 'SELECT * FROM batches WHERE id = $1', [id]);
  return r ? toRecord(r) : null;
}

export async function listBatches(db: Queryable): Promise<BatchRecord[]> {
  return (await rowsOf<BatchRow>(db, 'SELECT * FROM batches ORDER BY id')).map(toRecord);
}

export async function batchCounts(db: Queryable, id: number): Promise<BatchCounts> {
  return tallyBatchCounts(
    await rowsOf<CountGroup>(db, `${COUNTS} WHERE batch_id = $1 ${COUNT_GROUPS}`, [id]),
  );
}

/** Items of the batch that finished since `from`, per bucket of `bucketMs`. */
export async function finishedBuckets(
  db: Queryable,
  id: number,
  from: number,
  bucketMs: number,
): Promise<FinishedBucket[]> {
  return tallyFinishedBuckets(
    await rowsOf<FinishedGroup>(
      db,
      `SELECT (ended_at / $3::bigint) * $3::bigint AS start, status, count(*)::bigint AS n FROM jobs
       WHERE batch_id = $1 AND status IN ('completed', 'failed') AND ended_at >= $2
       GROUP BY start, status ORDER BY start`,
      [id, from, bucketMs],
    ),
  );
}

/** Counts over the current run of every item of every batch. */
export async function trackerCounts(db: Queryable): Promise<BatchCounts> {
  return tallyBatchCounts(
    await rowsOf<CountGroup>(db, `${COUNTS} WHERE batch_id IS NOT NULL ${COUNT_GROUPS}`),
  );
}

/** Items of the batch that finished (completed or failed) since `since`. */
export async function finishedSince(db: Queryable, id: number, since: number): Promise<number> {
  const [r] = await rowsOf<{ n: number }>(
    db,
    `SELECT count(*)::bigint AS n FROM jobs
     WHERE batch_id = $1 AND status IN ('completed', 'failed') AND ended_at >= $2`,
    [id, since],
  );
  return r?.n ?? 0;
}

/** Keeps the batch's pending items out of the run order, or lets them back; -1 when there is no such batch. */
export async function setPaused(db: Queryable, id: number, paused: boolean): Promise<number> {
  const set = await db.query('UPDATE batches SET paused = $2 WHERE id = $1', [id, paused]);
  if ((set.rowCount ?? 0) === 0) return -1;
  const held = await db.query(`UPDATE jobs SET held = $2 WHERE batch_id = $1 AND status = 'pending'`, [
    id,
    paused,
  ]);
  return held.rowCount ?? 0;
}

/** Cancels every pending item; resolves how many. */
export async function cancelPending(db: Queryable, id: number, now: number): Promise<number> {
  const r = await db.query(
    `UPDATE jobs SET status = 'cancelled', ended_at = $2,
       error = '{"type":"cancelled","message":"The batch was cancelled before the job ran"}'
     WHERE batch_id = $1 AND status = 'pending'`,
    [id, now],
  );
  return r.rowCount ?? 0;
}

export async function idsWithStatus(
  db: Queryable,
  id: number,
  status: 'pending' | 'in_progress',
): Promise<string[]> {
  return (
    await rowsOf<{ id: string }>(db, 'SELECT id FROM jobs WHERE batch_id = $1 AND status = $2', [id, status])
  ).map((r) => r.id);
}

/** Name, priority (of its pending items too) and weight, with new fair-share tags when those changed. */
export async function updateBatch(db: Queryable, id: number, patch: BatchPatch): Promise<BatchRecord | null> {
  const [r] = await rowsOf<BatchRow>(
    db,
    `UPDATE batches SET name = coalesce($2, name), priority = coalesce($3, priority),
       weight = coalesce($4, weight)
     WHERE id = $1 RETURNING *`,
    [id, patch.name ?? null, patch.priority ?? null, patch.weight ?? null],
  );
  if (!r) return null;
  if (patch.priority !== undefined)
    await db.query(`UPDATE jobs SET priority = $2 WHERE batch_id = $1 AND status = 'pending'`, [
      id,
      r.priority,
    ]);
  if (patch.priority !== undefined || patch.weight !== undefined) await retag(db, id, r.priority, r.weight);
  return toRecord(r);
}

/**
 * New fair-share tags for the batch's pending items after its weight or
 * priority changed: from where its first pending item stood (or the clock),
 * spaced by the new weight, in one statement.
 */
async function retag(db: Queryable, id: number, priority: number, weight: number): Promise<void> {
  const [head] = await rowsOf<{ n: number; fair: number | null }>(
    db,
    `SELECT count(*)::bigint AS n,
       (SELECT fair FROM jobs WHERE batch_id = $1 AND status = 'pending' ORDER BY position LIMIT 1) AS fair
     FROM jobs WHERE batch_id = $1 AND status = 'pending'`,
    [id],
  );
  await forget(db, batchGroup(id));
  if (!head || head.n === 0) return;
  const start = await take(db, batchGroup(id), priority, weight, head.n);
  const from = head.fair === null ? start : Math.min(start, head.fair);
  await db.query(
    `UPDATE jobs SET fair = $2::double precision + (k.n - 1) / $3::double precision
     FROM (SELECT id, row_number() OVER (ORDER BY position) AS n FROM jobs
           WHERE batch_id = $1 AND status = 'pending') AS k
     WHERE jobs.id = k.id`,
    [id, from, weight],
  );
}

/** Deletes the batch with all its jobs; refused while one of them runs. */
export async function deleteBatch(db: Queryable, id: number): Promise<'deleted' | 'running' | 'missing'> {
  const [b] = await rowsOf<{ id: number }>(db, 'SELECT id FROM batches WHERE id = $1 FOR UPDATE', [id]);
  if (!b) return 'missing';
  const [running] = await rowsOf<{ n: number }>(
    db,
    `SELECT count(*)::bigint AS n FROM jobs WHERE (batch_id = $1 OR batch_past = $1) AND status = 'in_progress'`,
    [id],
  );
  if ((running?.n ?? 0) > 0) return 'running';
  await db.query('DELETE FROM jobs WHERE batch_id = $1 OR batch_past = $1', [id]);
  await db.query('DELETE FROM batches WHERE id = $1', [id]);
  await forget(db, batchGroup(id));
  return 'deleted';
}

export async function batchItem(db: Queryable, id: number, index: number): Promise<PgJobRow[]> {
  return rowsOf<PgJobRow>(db, `SELECT ${JOB_COLUMNS} FROM jobs WHERE batch_id = $1 AND batch_index = $2`, [
    id,
    index,
  ]);
}

/**
 * Runs items again: each selected current run (finished) becomes history and
 * a new pending job takes the item, with a new id. Resolves the new rows.
 */
export async function rerun(
  db: Queryable,
  id: number,
  which: RerunSelection,
  now: number,
  newId: () => string,
): Promise<PgJobRow[]> {
  const [batch] = await rowsOf<BatchRow>(db, 'SELECT * FROM batches WHERE id = $1 FOR UPDATE', [id]);
  if (!batch) return [];
  const finished = `status IN ('completed', 'failed', 'cancelled')`;
  const picked =
    which.kind === 'failed'
      ? await rowsOf<{ id: string; batch_index: number }>(
          db,
          `SELECT id, batch_index FROM jobs WHERE batch_id = $1 AND status IN ('failed', 'cancelled')
           ORDER BY batch_index FOR UPDATE`,
          [id],
        )
      : which.kind === 'flagged'
        ? await rowsOf<{ id: string; batch_index: number }>(
            db,
            `SELECT id, batch_index FROM jobs WHERE batch_id = $1 AND flagged AND ${finished}
             ORDER BY batch_index FOR UPDATE`,
            [id],
          )
        : await rowsOf<{ id: string; batch_index: number }>(
            db,
            `SELECT id, batch_index FROM jobs WHERE id = ANY($2::text[]) AND batch_id = $1 AND ${finished}
             ORDER BY batch_index FOR UPDATE`,
            [id, [...new Set(which.ids)]],
          );
  if (picked.length === 0) return [];
  const start = await take(db, batchGroup(id), batch.priority, batch.weight, picked.length);
  await db.query('UPDATE jobs SET batch_past = batch_id, batch_id = NULL WHERE id = ANY($1::text[])', [
    picked.map((r) => r.id),
  ]);
  const ids = picked.map(() => newId());
  return rowsOf<PgJobRow>(
    db,
    `INSERT INTO jobs (id, prompt, extra_data, priority, position, status, created_at, requires,
       batch_id, batch_index, fair, held)
     SELECT t.id, '', '{}', $3, nextval('job_positions'), 'pending', $4, $5, $6, t.batch_index,
       $7::double precision + (t.k - 1) / $8::double precision, $9
     FROM unnest($1::text[], $2::integer[]) WITH ORDINALITY AS t(id, batch_index, k)
     ORDER BY t.k
     RETURNING ${JOB_COLUMNS}`,
    [
      ids,
      picked.map((r) => r.batch_index),
      batch.priority,
      now,
      batch.requires,
      id,
      start,
      batch.weight,
      batch.paused,
    ],
  );
}

/** Marks a completed job done, or clears the mark. */
export async function setDone(db: Queryable, jobId: string, done: boolean): Promise<PgJobRow[]> {
  return rowsOf<PgJobRow>(
    db,
    `UPDATE jobs SET tracker = $2 WHERE id = $1 AND status = 'completed' RETURNING ${JOB_COLUMNS}`,
    [jobId, done ? 'done' : null],
  );
}

/** Jobs (any) that finished per minute since `since`. */
export async function perMinute(db: Queryable, since: number): Promise<MinuteCount[]> {
  const byMinute = new Map<number, MinuteCount>();
  const rows = await rowsOf<{ minute: number; status: string; n: number }>(
    db,
    `SELECT (ended_at / 60000) * 60000 AS minute, status, count(*)::bigint AS n FROM jobs
     WHERE status IN ('completed', 'failed') AND ended_at >= $1 GROUP BY minute, status ORDER BY minute`,
    [since],
  );
  for (const r of rows) {
    const m = byMinute.get(r.minute) ?? { minute: r.minute, completed: 0, failed: 0 };
    if (r.status === 'completed') m.completed = r.n;
    else m.failed = r.n;
    byMinute.set(r.minute, m);
  }
  return [...byMinute.values()];
}

/** A page of items in (batch, index) order. */
export async function items(db: Queryable, q: BatchItemQuery): Promise<{ rows: PgJobRow[]; more: boolean }> {
  const params: unknown[] = [];
  const add = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  const where = ['batch_id IS NOT NULL'];
  if (q.batchId != null) where.push(`batch_id = ${add(q.batchId)}::bigint`);
  if (q.fromIndex != null) where.push(`batch_index >= ${add(q.fromIndex)}::integer`);
  if (q.toIndex != null) where.push(`batch_index <= ${add(q.toIndex)}::integer`);
  if (q.indexes) where.push(`batch_index = ANY(${add(q.indexes)}::integer[])`);
  if (q.after)
    where.push(`(batch_id, batch_index) > (${add(q.after.batchId)}::bigint, ${add(q.after.index)}::integer)`);
  if (q.statuses?.length) {
    const terms = q.statuses.map((st) => `(${trackerSql(st, q.collecting === true)})`);
    where.push(`(${terms.join(' OR ')})`);
  }
  const rows = await rowsOf<PgJobRow>(
    db,
    `SELECT ${JOB_COLUMNS} FROM jobs WHERE ${where.join(' AND ')}
     ORDER BY batch_id, batch_index LIMIT ${add(q.limit + 1)} OFFSET ${add(q.offset ?? 0)}`,
    params,
  );
  const more = rows.length > q.limit;
  return { rows: more ? rows.slice(0, q.limit) : rows, more };
}
