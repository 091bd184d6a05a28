/**
 * JobStore.listJobs on PostgreSQL: one keyset walk per requested status
 * over the (status, sort key, id) indexes, each fetching at most
 * offset + limit + 1 rows, merged by the database (a Merge Append of the
 * arms), so a page reads O(statuses × (offset + limit)) index entries
 * whatever the table holds. The text filter is a tsquery on the GIN-indexed
 * `search` column; with its statistics the planner either walks the sort
 * index checking each row or fetches a rare word's few matches and sorts
 * them. Totals come from the slot counters when no filter narrows them.
 */
import {
  FINISHED_STATUSES,
  JOB_STATUSES,
  type JobError,
  type JobOutputs,
  type JobStatus,
} from '../../domain/job.js';
import type { JobListItem, JobPage, JobQuery, JobSort } from '../job-query.js';
import { sortValue } from '../job-query.js';
import { type Queryable, rowsOf } from './queryable.js';
import { prefixQuery } from './search-terms.js';

// A batch's item has no name of its own: it is shown as `<batch name>/<index>` (migration 0003).
const COLUMNS = `id, coalesce(name, (SELECT b.name FROM batches b WHERE b.id = coalesce(jobs.batch_id, jobs.batch_past))
    || '/' || jobs.batch_index) AS name, status, priority, fair, position, created_at, started_at, ended_at, worker,
  attempts, error, outputs, client_id, flagged, workflow_id, duration`;

const SORT_COLUMN: Record<JobSort, string> = {
  created_at: 'created_at',
  execution_duration: 'duration',
  ended_at: 'ended_at',
};

interface ListRow {
  id: string;
  name: string | null;
  status: JobStatus;
  priority: number;
  position: number;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  worker: string | null;
  attempts: number;
  error: string | null;
  outputs: string | null;
  client_id: string | null;
  flagged: boolean;
  workflow_id: string | null;
  duration: number;
  fair: number;
}

function toItem(r: ListRow): JobListItem {
  return {
    id: r.id,
    name: r.name,
    status: r.status,
    priority: r.priority,
    fair: r.fair,
    position: r.position,
    createdAt: r.created_at,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    worker: r.worker,
    attempts: r.attempts,
    error: r.error === null ? null : (JSON.parse(r.error) as JobError),
    outputs: r.outputs === null ? null : (JSON.parse(r.outputs) as JobOutputs),
    clientId: r.client_id,
    flagged: r.flagged,
    workflowId: r.workflow_id,
    durationMs: r.duration,
  };
}

/**
 * Up to this many text matches, a page reads the matches from the GIN index
 * and sorts them; beyond, it walks the sort index checking each row's words,
 * which meets a match within about N / matches rows. The planner cannot tell
 * the two apart for a prefix query (its estimate is a guess), so the store
 * asks the index first, as the SQLite store does. Reading matches costs a
 * heap fetch each here, so the threshold is lower than SQLite's: about
 * √(page × jobs) for a million jobs (bench/pg-store.ts).
 */
export const FEW_MATCHES = 5_000;

/**
 * The ids of up to `limit` jobs whose words match, read from the GIN index
 * only (a bitmap scan: the planner is kept off the table scan and the sort
 * index, which would read every row for a rare word). One round trip.
 */
async function textMatches(db: Queryable, tsquery: string, limit: number): Promise<string[]> {
  const literal = `'${tsquery.replaceAll("'", "''")}'::tsquery`;
  const results = (await db.query(
    `BEGIN READ ONLY; SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off;
     SELECT id FROM jobs WHERE search @@ ${literal} LIMIT ${Math.trunc(limit)}; COMMIT`,
  )) as unknown as { rows: { id: string }[] }[];
  return results[3]?.rows.map((r) => r.id) ?? [];
}

/** Numbered parameters, added as the SQL is written. */
class Params {
  readonly values: unknown[] = [];
  add(v: unknown, cast = ''): string {
    this.values.push(v);
    return `$${this.values.length}${cast}`;
  }
}

/** How a text filter is answered: the ids of its few matches, or the tsquery checked row by row. */
type TextFilter = { ids: string[] } | { tsquery: string } | null;

/** The filters other than status and the keyset, as SQL terms. */
function filterTerms(q: JobQuery, text: TextFilter, p: Params): string[] {
  const where: string[] = [];
  if (q.workflowId) where.push(`workflow_id = ${p.add(q.workflowId)}`);
  if (q.since !== null && q.since !== undefined) where.push(`created_at >= ${p.add(q.since, '::bigint')}`);
  if (q.until !== null && q.until !== undefined) where.push(`created_at <= ${p.add(q.until, '::bigint')}`);
  if (q.worker) where.push(`worker = ${p.add(q.worker)}`);
  // Literal, so that the planner may use the partial index jobs_flagged.
  if (q.flagged === true) where.push('flagged');
  if (q.flagged === false) where.push('NOT flagged');
  if (text && 'ids' in text) where.push(`id = ANY(${p.add(text.ids, '::text[]')})`);
  else if (text) where.push(`search @@ ${p.add(text.tsquery, '::tsquery')}`);
  return where;
}

export async function listJobs(db: Queryable, q: JobQuery, fewMatches = FEW_MATCHES): Promise<JobPage> {
  const sort = q.sort ?? 'created_at';
  const desc = (q.order ?? 'desc') === 'desc';
  let statuses: readonly JobStatus[] = q.statuses?.length ? [...new Set(q.statuses)] : JOB_STATUSES;
  // Only finished jobs have a completion time.
  if (sort === 'ended_at') statuses = statuses.filter((s) => FINISHED_STATUSES.includes(s));
  const offset = q.after ? 0 : Math.max(0, Math.trunc(q.offset ?? 0));
  const limit = q.limit === null || q.limit === undefined ? null : Math.max(0, Math.trunc(q.limit));
  const want = limit === null ? null : offset + limit + 1;
  const col = SORT_COLUMN[sort];
  const dir = desc ? 'DESC' : 'ASC';
  const tsquery = q.text ? prefixQuery(q.text) : null;
  let text: TextFilter = null;
  if (tsquery !== null) {
    const ids = await textMatches(db, tsquery, fewMatches + 1);
    text = ids.length <= fewMatches ? { ids } : { tsquery };
  }

  let items: JobListItem[] = [];
  if (statuses.length > 0) {
    const p = new Params();
    const filters = filterTerms(q, text, p);
    const keyset = q.after
      ? [
          `(${col}, id) ${desc ? '<' : '>'} (${p.add(q.after.value, '::bigint')}, ${p.add(q.after.id, '::text')})`,
        ]
      : [];
    const order = `ORDER BY ${col} ${dir}, id ${dir}`;
    const cap = want === null ? '' : ` LIMIT ${p.add(want, '::bigint')}`;
    const arms = statuses.map((status) => {
      const where = [`status = ${p.add(status)}`, ...filters, ...keyset];
      return `(SELECT ${COLUMNS} FROM jobs WHERE ${where.join(' AND ')} ${order}${cap})`;
    });
    const sql =
      arms.length === 1 ? arms[0]! : `SELECT * FROM (${arms.join(' UNION ALL ')}) AS u ${order}${cap}`;
    items = (await rowsOf<ListRow>(db, sql, p.values)).map(toItem);
  }
  const page = limit === null ? items.slice(offset) : items.slice(offset, offset + limit);
  const hasMore = limit !== null && items.length > offset + limit;
  const last = page[page.length - 1];
  let total: number | null = null;
  if (q.countTotal !== false) total = await countMatches(db, q, statuses, text);
  return {
    jobs: page,
    total,
    hasMore,
    nextCursor: hasMore && last ? { value: sortValue(last, sort), id: last.id } : null,
  };
}

/** Rows matching the filters: the slot counters when only statuses narrow them, else a count (O(matches)). */
async function countMatches(
  db: Queryable,
  q: JobQuery,
  statuses: readonly JobStatus[],
  text: TextFilter,
): Promise<number> {
  if (statuses.length === 0) return 0;
  const p = new Params();
  const filters = filterTerms(q, text, p);
  if (filters.length === 0) {
    const [r] = await rowsOf<{ n: number | null }>(
      db,
      `SELECT sum(n)::bigint AS n FROM job_counts WHERE status = ANY(${p.add(statuses, '::text[]')})`,
      p.values,
    );
    return r?.n ?? 0;
  }
  const [r] = await rowsOf<{ n: number }>(
    db,
    `SELECT count(*) AS n FROM jobs WHERE status = ANY(${p.add(statuses, '::text[]')}) AND ${filters.join(' AND ')}`,
    p.values,
  );
  return r?.n ?? 0;
}

/** The latest job that produced this file, if any. */
export async function jobForFile(
  db: Queryable,
  type: string,
  subfolder: string,
  filename: string,
): Promise<string | null> {
  const [r] = await rowsOf<{ id: string }>(
    db,
    `SELECT j.id FROM job_files f JOIN jobs j ON j.id = f.job_id
     WHERE f.type = $1 AND f.subfolder = $2 AND f.filename = $3
     ORDER BY j.ended_at DESC NULLS LAST LIMIT 1`,
    [type, subfolder, filename],
  );
  return r?.id ?? null;
}

/** The worker of the latest job that produced this file, if any. */
export async function workerForFile(
  db: Queryable,
  type: string,
  subfolder: string,
  filename: string,
): Promise<string | null> {
  const [r] = await rowsOf<{ worker: string }>(
    db,
    `SELECT j.worker FROM job_files f JOIN jobs j ON j.id = f.job_id
     WHERE f.type = $1 AND f.subfolder = $2 AND f.filename = $3 AND j.worker IS NOT NULL
     ORDER BY j.ended_at DESC NULLS LAST LIMIT 1`,
    [type, subfolder, filename],
  );
  return r?.worker ?? null;
}
