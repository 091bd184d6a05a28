/**
 * Batches on SQLite (migration 0007). A batch is one `batches` row and one
 * `jobs` row per item holding no graph (`prompt` = ''): the item's graph is
 * derived when the row is read (BatchParts below, one parsed template per
 * batch in memory). Creating 100,000 items is one INSERT statement in the
 * caller's transaction, with no search-index row (a batch's items are
 * searched by index and traits, not by text), counted in `job_counts` once
 * (migration 0009). Every write method runs inside the caller's write
 * transaction.
 */
import type Database from 'better-sqlite3';
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
import { batchGroup, type FairShare } from './fair-share.js';
import { type BatchPart, type BatchResolver, type JobRow, jobRowColumns } from './job-row.js';

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
  paused: number;
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

/** The parsed template of each batch, for deriving its items' graphs. */
export class BatchParts {
  private readonly cache = new Map<number, Cached>();
  private readonly graphs = new Map<string, string>();
  private readonly byId: Database.Statement<[id: number], BatchRow>;

  constructor(db: Database.Database) {
    this.byId = db.prepare('SELECT * FROM batches WHERE id = ?');
  }

  readonly resolver: BatchResolver = (batchId, index): BatchPart => {
    const b = this.load(batchId);
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

  spec(batchId: number): BatchSpec | null {
    return this.load(batchId)?.spec ?? null;
  }

  /** Forgets a batch's cached template and graphs (renamed or deleted). */
  drop(batchId: number): void {
    this.cache.delete(batchId);
    for (const key of this.graphs.keys()) if (key.startsWith(`${batchId}:`)) this.graphs.delete(key);
  }

  private load(batchId: number): Cached | null {
    let b = this.cache.get(batchId);
    if (!b) {
      const row = this.byId.get(batchId);
      if (!row) return null;
      b = {
        name: row.name,
        template: row.template,
        spec: JSON.parse(row.spec) as BatchSpec,
        workflow: row.workflow === null ? null : JSON.parse(row.workflow),
        extraData: JSON.parse(row.extra_data) as Record<string, unknown>,
      };
      if (this.cache.size >= 256) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(batchId, b);
    }
    return b;
  }
}

function toRecord(r: BatchRow): BatchRecord {
  return {
    id: r.id,
    name: r.name,
    total: r.total,
    priority: r.priority,
    weight: r.weight,
    paused: r.paused !== 0,
    requires: r.requires ? (JSON.parse(r.requires) as string[]) : [],
    clientId: r.client_id,
    createdAt: r.created_at,
    spec: JSON.parse(r.spec) as BatchSpec,
  };
}

/**
 * Whether a completed item's outputs of its latest run are stored where the server collects them
 * (migration 0008), or came with an external worker's report (stored with it: Outputs.collected).
 */
const STORED = `(status = 'completed' AND (EXISTS (SELECT 1 FROM collections c
  WHERE c.job_id = jobs.id AND c.state = 'stored' AND c.ended_at = jobs.ended_at)
  OR (outputs IS NOT NULL AND instr(outputs, '"external"') > 0
    AND json_type(CASE WHEN json_valid(outputs) THEN outputs END, '$.external') IS NOT NULL)))`;

const FINISHED_UNMARKED = `status = 'completed' AND flagged = 0 AND tracker IS NULL`;

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
      return `status = 'completed' AND flagged = 0 AND tracker = 'done'`;
    case 'error':
      return `status IN ('failed', 'cancelled') AND flagged = 0`;
    case 'flagged':
      return `flagged = 1 AND status IN ('completed', 'failed', 'cancelled')`;
  }
}

export class SqliteBatches {
  private readonly s;

  constructor(
    private readonly db: Database.Database,
    private readonly fair: FairShare,
    readonly parts: BatchParts,
  ) {
    const p = <P extends unknown[] | object, R = unknown>(sql: string) => db.prepare<P, R>(sql);
    this.s = {
      insertBatch: p<Omit<BatchRow, 'id' | 'paused'>>(
        `INSERT INTO batches (name, template, workflow, extra_data, spec, total, priority, weight, requires,
           client_id, created_at)
         VALUES (@name, @template, @workflow, @extra_data, @spec, @total, @priority, @weight, @requires,
           @client_id, @created_at)`,
      ),
      insertItem: p<
        [
          id: string,
          priority: number,
          position: number,
          createdAt: number,
          requires: string | null,
          batchId: number,
          index: number,
          fair: number,
          held: number,
        ]
      >(
        `INSERT INTO jobs (id, prompt, extra_data, priority, position, status, created_at, requires,
           batch_id, batch_index, fair, held)
         VALUES (?, '', '{}', ?, ?, 'pending', ?, ?, ?, ?, ?, ?)`,
      ),
      // Every item in one statement, its values made in SQL: nothing crosses from JavaScript per item.
      insertItems: p<{
        total: number;
        prefix: string;
        first_id: number;
        priority: number;
        first: number;
        now: number;
        requires: string | null;
        batch: number;
        start: number;
        step: number;
      }>(
        `WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < @total)
         INSERT INTO jobs (id, prompt, extra_data, priority, position, status, created_at, requires,
           batch_id, batch_index, fair, held)
         SELECT @prefix || printf('%012x', @first_id + i), '', '{}', @priority, @first + i, 'pending', @now,
           @requires, @batch, i + 1, @start + i * @step, 0
         FROM k`,
      ),
      // Items are counted here, not by the per-row trigger (migration 0009).
      countPending: p<[n: number]>(`UPDATE job_counts SET n = n + ? WHERE status = 'pending'`),
      maxPosition: p<[], { m: number | null }>('SELECT max(position) AS m FROM jobs'),
      get: p<[id: number], BatchRow>('SELECT * FROM batches WHERE id = ?'),
      list: p<[], BatchRow>('SELECT * FROM batches ORDER BY id'),
      counts: p<[id: number], CountGroup>(
        `SELECT status, flagged, tracker, ${STORED} AS stored, count(*) AS n FROM jobs INDEXED BY jobs_batch_status
         WHERE batch_id = ? GROUP BY status, flagged, tracker, stored`,
      ),
      finishedSince: p<[id: number, since: number], { n: number }>(
        `SELECT count(*) AS n FROM jobs INDEXED BY jobs_batch_status
         WHERE batch_id = ? AND status IN ('completed', 'failed') AND ended_at >= ?`,
      ),
      // `%` works on integers whatever the bound number's type (a `/` by a bound number may be real).
      finishedBuckets: p<[bucket: number, id: number, from: number], FinishedGroup>(
        `SELECT ended_at - ended_at % ? AS start, status, count(*) AS n FROM jobs INDEXED BY jobs_batch_status
         WHERE batch_id = ? AND status IN ('completed', 'failed') AND ended_at >= ?
         GROUP BY start, status ORDER BY start`,
      ),
      setPaused: p<[paused: number, id: number]>('UPDATE batches SET paused = ? WHERE id = ?'),
      holdItems: p<[held: number, id: number]>(
        `UPDATE jobs SET held = ? WHERE batch_id = ? AND status = 'pending'`,
      ),
      cancelPending: p<[ended: number, id: number]>(
        `UPDATE jobs SET status = 'cancelled', ended_at = ?,
           error = '{"type":"cancelled","message":"The batch was cancelled before the job ran"}'
         WHERE batch_id = ? AND status = 'pending'`,
      ),
      idsWithStatus: p<[id: number, status: string], { id: string }>(
        `SELECT id FROM jobs INDEXED BY jobs_batch_status WHERE batch_id = ? AND status = ?`,
      ),
      pendingByPosition: p<[id: number], { id: string; fair: number }>(
        `SELECT id, fair FROM jobs WHERE batch_id = ? AND status = 'pending' ORDER BY position`,
      ),
      setFair: p<[fair: number, id: string]>('UPDATE jobs SET fair = ? WHERE id = ?'),
      setPendingPriority: p<[priority: number, id: number]>(
        `UPDATE jobs SET priority = ? WHERE batch_id = ? AND status = 'pending'`,
      ),
      update: p<
        { id: number; name: string | null; priority: number | null; weight: number | null },
        BatchRow
      >(
        `UPDATE batches SET name = coalesce(@name, name), priority = coalesce(@priority, priority),
           weight = coalesce(@weight, weight)
         WHERE id = @id RETURNING *`,
      ),
      running: p<[id: number, same: number], { n: number }>(
        `SELECT count(*) AS n FROM jobs WHERE (batch_id = ? OR batch_past = ?) AND status = 'in_progress'`,
      ),
      deleteJobs: p<[id: number, same: number]>('DELETE FROM jobs WHERE batch_id = ? OR batch_past = ?'),
      deleteBatch: p<[id: number]>('DELETE FROM batches WHERE id = ?'),
      item: p<[id: number, index: number], JobRow>(
        `SELECT ${jobRowColumns()} FROM jobs WHERE batch_id = ? AND batch_index = ?`,
      ),
      rerunFailed: p<[id: number], JobRow>(
        `SELECT ${jobRowColumns()} FROM jobs INDEXED BY jobs_batch_status
         WHERE batch_id = ? AND status IN ('failed', 'cancelled')`,
      ),
      rerunFlagged: p<[id: number], JobRow>(
        `SELECT ${jobRowColumns()} FROM jobs INDEXED BY jobs_batch_status
         WHERE batch_id = ? AND flagged = 1 AND status IN ('completed', 'failed', 'cancelled')`,
      ),
      jobRow: p<[id: string], JobRow>(`SELECT ${jobRowColumns()} FROM jobs WHERE id = ?`),
      supersede: p<[id: string]>(
        'UPDATE jobs SET batch_past = batch_id, batch_id = NULL WHERE id = ? AND batch_id IS NOT NULL',
      ),
      setDone: p<[done: string | null, id: string], JobRow>(
        `UPDATE jobs SET tracker = ? WHERE id = ? AND status = 'completed' RETURNING ${jobRowColumns()}`,
      ),
      allCounts: p<[], CountGroup>(
        `SELECT status, flagged, tracker, ${STORED} AS stored, count(*) AS n FROM jobs INDEXED BY jobs_batch_status
         WHERE batch_id IS NOT NULL GROUP BY status, flagged, tracker, stored`,
      ),
      perMinute: p<[since: number], { minute: number; status: string; n: number }>(
        `SELECT (ended_at / 60000) * 60000 AS minute, status, count(*) AS n FROM jobs
         WHERE status IN ('completed', 'failed') AND ended_at >= ? GROUP BY minute, status ORDER BY minute`,
      ),
    };
  }

  /** Stores the batch and its items (their prompt_ids from `b.ids`). */
  create(b: NewBatch): BatchRecord {
    const s = this.s;
    const total = batchTotal(b.spec);
    const requires = b.requires.length ? JSON.stringify(b.requires) : null;
    const row = {
      name: b.name,
      template: JSON.stringify(b.template),
      workflow: b.workflow === null || b.workflow === undefined ? null : JSON.stringify(b.workflow),
      extra_data: JSON.stringify(b.extraData),
      spec: JSON.stringify(b.spec),
      total,
      priority: b.priority,
      weight: b.weight,
      requires,
      client_id: b.clientId,
      created_at: b.createdAt,
    };
    const batchId = Number(s.insertBatch.run(row).lastInsertRowid);
    const start = this.fair.take(batchGroup(batchId), b.priority, b.weight, total);
    s.insertItems.run({
      total,
      prefix: b.ids.prefix,
      first_id: b.ids.first,
      priority: b.priority,
      first: (s.maxPosition.get()?.m ?? 0) + 1,
      now: b.createdAt,
      requires,
      batch: batchId,
      start,
      step: 1 / b.weight,
    });
    s.countPending.run(total);
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

  get(id: number): BatchRecord | null {
    const r = this.s.get.get(id);
    return r ? toRecord(r) : null;
  }

  list(): BatchRecord[] {
    return this.s.list.all().map(toRecord);
  }

  counts(id: number): BatchCounts {
    return tallyBatchCounts(this.s.counts.all(id));
  }

  /** Items of the batch that finished (completed or failed) since `since`. */
  finishedSince(id: number, since: number): number {
    return this.s.finishedSince.get(id, since)?.n ?? 0;
  }

  /** Items of the batch that finished since `from`, per bucket of `bucketMs`. */
  finishedBuckets(id: number, from: number, bucketMs: number): FinishedBucket[] {
    return tallyFinishedBuckets(this.s.finishedBuckets.all(bucketMs, id, from));
  }

  /** Keeps the batch's pending items out of the run order, or lets them back; resolves how many moved. */
  setPaused(id: number, paused: boolean): number {
    if (this.s.setPaused.run(paused ? 1 : 0, id).changes === 0) return -1;
    return this.s.holdItems.run(paused ? 1 : 0, id).changes;
  }

  /** Cancels every pending item; resolves how many. */
  cancelPending(id: number, now: number): number {
    return this.s.cancelPending.run(now, id).changes;
  }

  idsWithStatus(id: number, status: 'pending' | 'in_progress'): string[] {
    return this.s.idsWithStatus.all(id, status).map((r) => r.id);
  }

  update(id: number, patch: BatchPatch): BatchRecord | null {
    const s = this.s;
    const r = s.update.get({
      id,
      name: patch.name ?? null,
      priority: patch.priority ?? null,
      weight: patch.weight ?? null,
    });
    if (!r) return null;
    this.parts.drop(id);
    if (patch.priority !== undefined) s.setPendingPriority.run(r.priority, id);
    if (patch.priority !== undefined || patch.weight !== undefined) this.retag(id, r.priority, r.weight);
    return toRecord(r);
  }

  /**
   * New fair-share tags for the batch's pending items after its weight or
   * priority changed: from where its first pending item stood (or the clock),
   * spaced by the new weight.
   */
  private retag(id: number, priority: number, weight: number): void {
    const s = this.s;
    const pending = s.pendingByPosition.all(id);
    this.fair.forget(batchGroup(id));
    if (pending.length === 0) return;
    const start = this.fair.take(batchGroup(id), priority, weight, pending.length);
    const from = Math.min(start, ...pending.slice(0, 1).map((p) => p.fair));
    pending.forEach((p, k) => {
      s.setFair.run(from + k / weight, p.id);
    });
  }

  /** Deletes the batch with all its jobs; false when it has running jobs or does not exist. */
  delete(id: number): 'deleted' | 'running' | 'missing' {
    const s = this.s;
    if (!s.get.get(id)) return 'missing';
    if ((s.running.get(id, id)?.n ?? 0) > 0) return 'running';
    s.deleteJobs.run(id, id);
    s.deleteBatch.run(id);
    this.fair.forget(batchGroup(id));
    this.parts.drop(id);
    return 'deleted';
  }

  item(id: number, index: number): JobRow | null {
    return this.s.item.get(id, index) ?? null;
  }

  /**
   * Runs items again: each selected current run (finished) becomes history
   * and a new pending job takes the item, with a new id. Resolves the new rows.
   */
  rerun(id: number, which: RerunSelection, now: number, newId: () => string): JobRow[] {
    const s = this.s;
    const batch = s.get.get(id);
    if (!batch) return [];
    let rows: JobRow[];
    if (which.kind === 'failed') rows = s.rerunFailed.all(id);
    else if (which.kind === 'flagged') rows = s.rerunFlagged.all(id);
    else
      rows = which.ids
        .map((jobId) => s.jobRow.get(jobId))
        .filter(
          (r): r is JobRow =>
            !!r && r.batch_id === id && r.status !== 'pending' && r.status !== 'in_progress',
        );
    if (rows.length === 0) return [];
    rows.sort((a, b) => (a.batch_index ?? 0) - (b.batch_index ?? 0));
    const start = this.fair.take(batchGroup(id), batch.priority, batch.weight, rows.length);
    const first = (s.maxPosition.get()?.m ?? 0) + 1;
    const out: JobRow[] = [];
    rows.forEach((r, k) => {
      s.supersede.run(r.id);
      const jobId = newId();
      s.insertItem.run(
        jobId,
        batch.priority,
        first + k,
        now,
        batch.requires,
        id,
        r.batch_index!,
        start + k / batch.weight,
        batch.paused,
      );
      out.push(s.jobRow.get(jobId)!);
    });
    s.countPending.run(out.length);
    return out;
  }

  setDone(jobId: string, done: boolean): JobRow | null {
    return this.s.setDone.get(done ? 'done' : null, jobId) ?? null;
  }

  /** Counts over the current run of every item of every batch. */
  allCounts(): BatchCounts {
    return tallyBatchCounts(this.s.allCounts.all());
  }

  /** Jobs (any) that finished per minute since `since`. */
  perMinute(since: number): MinuteCount[] {
    const byMinute = new Map<number, MinuteCount>();
    for (const r of this.s.perMinute.all(since)) {
      const m = byMinute.get(r.minute) ?? { minute: r.minute, completed: 0, failed: 0 };
      if (r.status === 'completed') m.completed = r.n;
      else m.failed = r.n;
      byMinute.set(r.minute, m);
    }
    return [...byMinute.values()];
  }

  /** A page of items in (batch, index) order. */
  items(q: BatchItemQuery): { rows: JobRow[]; more: boolean } {
    const where = ['batch_id IS NOT NULL'];
    const params: Record<string, unknown> = { limit: q.limit + 1, offset: q.offset ?? 0 };
    if (q.batchId != null) {
      where.push('batch_id = @batch');
      params.batch = q.batchId;
    }
    if (q.fromIndex != null) {
      where.push('batch_index >= @from');
      params.from = q.fromIndex;
    }
    if (q.toIndex != null) {
      where.push('batch_index <= @to');
      params.to = q.toIndex;
    }
    if (q.indexes) {
      where.push('batch_index IN (SELECT value FROM json_each(@indexes))');
      params.indexes = JSON.stringify(q.indexes);
    }
    if (q.after) {
      where.push('(batch_id, batch_index) > (@after_batch, @after_index)');
      params.after_batch = q.after.batchId;
      params.after_index = q.after.index;
    }
    if (q.statuses?.length) {
      const terms = q.statuses.map((st) => `(${trackerSql(st, q.collecting === true)})`);
      where.push(`(${terms.join(' OR ')})`);
    }
    const rows = this.db
      .prepare<Record<string, unknown>, JobRow>(
        `SELECT ${jobRowColumns()} FROM jobs INDEXED BY jobs_batch_item WHERE ${where.join(' AND ')}
         ORDER BY batch_id, batch_index LIMIT @limit OFFSET @offset`,
      )
      .all(params);
    const more = rows.length > q.limit;
    return { rows: more ? rows.slice(0, q.limit) : rows, more };
  }
}
