/**
 * JobStore.listJobs on SQLite. One keyset walk per requested status over the
 * (status, sort key, id) indexes, each fetching at most offset + limit + 1
 * rows, merged here; totals come from the trigger-kept `job_counts` (or an
 * index count when filtered by workflow). So a page reads O(statuses ×
 * (offset + limit)) index entries whatever the table holds. Other filters
 * (dates, worker, flagged) are checked on the walk. A text filter (the FTS5
 * index jobs_fts, migration 0004) fetches its few matches by rowid and sorts
 * them; a common one walks the sort index instead, checking each walked row
 * against FTS5 expressions that are read lazily (whole words, indexed
 * prefixes; see FtsWalkPlan), and only the rows those cannot decide against
 * the job's own text. FTS5 merges a long prefix's doclists in
 * full on every query, so a page never asks it for one when the word is
 * common.
 */
import type Database from 'better-sqlite3';
import {
  FINISHED_STATUSES,
  JOB_STATUSES,
  type JobError,
  type JobOutputs,
  type JobStatus,
} from '../../domain/job.js';
import {
  type FtsWalkPlan,
  ftsMatchQuery,
  ftsWalkPlan,
  hasEveryPrefix,
  INDEXED_PREFIXES,
} from '../../domain/search-text.js';
import { type JobListItem, type JobPage, type JobQuery, type JobSort, sortValue } from '../job-query.js';
import { storedSearchText } from './search-index.js';

// A batch's item has no name of its own: it is shown as `<batch name>/<index>` (migration 0007).
const COLUMNS = `id, coalesce(name, (SELECT b.name FROM batches b WHERE b.id = coalesce(jobs.batch_id, jobs.batch_past))
    || '/' || jobs.batch_index) AS name, status, priority, fair, position, created_at, started_at, ended_at, worker, attempts,
  error, outputs, client_id, flagged, workflow_id, duration`;

const SORT_COLUMN: Record<JobSort, string> = {
  created_at: 'created_at',
  execution_duration: 'duration',
  ended_at: 'ended_at',
};

/** The (status, sort key, id) index of each sort (migrations 0001, 0002). */
const SORT_INDEX: Record<JobSort, string> = {
  created_at: 'jobs_status_created',
  execution_duration: 'jobs_status_duration',
  ended_at: 'jobs_status_ended',
};

/**
 * Up to this many text matches, a page fetches every match by rowid and
 * sorts them; beyond, it walks the sort index and checks each row against
 * the text index, which meets a match within about N / matches rows
 * (bench/history.ts).
 */
export const FEW_MATCHES = 5_000;
/**
 * A walk of uncertain yield checks this many rows against their own text,
 * then goes on only while at least one in TEXT_YIELD_MIN of them matches;
 * otherwise the query is handed to FTS5, which reads its few matches.
 */
const TEXT_CHECKS_FREE = 100;
/**
 * A query between rare and common whose words' prefixes hold at most this
 * many times FEW_MATCHES jobs each is read the common word's way. At a
 * million jobs, a page of a word in 4,700 of them takes about half the time
 * of the walk in JavaScript (bench/history.ts, "middling word"). Counting a
 * prefix up to the bound costs about 1 ms.
 */
const MERGE_FACTOR = 4;
const TEXT_YIELD_MIN = 10;

/** The filters other than status and the keyset, as SQL terms over `jobs` and their parameters. */
function filterSql(q: JobQuery, match: string | null): { where: string[]; params: Record<string, unknown> } {
  const where: string[] = [];
  const params: Record<string, unknown> = {};
  if (q.workflowId) {
    where.push('workflow_id = @wf');
    params.wf = q.workflowId;
  }
  if (q.since !== null && q.since !== undefined) {
    where.push('created_at >= @since');
    params.since = q.since;
  }
  if (q.until !== null && q.until !== undefined) {
    where.push('created_at <= @until');
    params.until = q.until;
  }
  if (q.worker) {
    where.push('worker = @worker');
    params.worker = q.worker;
  }
  // Literal, so that the planner may use the partial index jobs_flagged.
  if (q.flagged === true) where.push('flagged = 1');
  if (q.flagged === false) where.push('flagged = 0');
  if (match !== null) params.match = match;
  return { where, params };
}

/**
 * The index a per-status walk takes. Without statistics the planner may pick
 * the (worker, status) index and sort a worker's whole history; walking the
 * sort index and skipping other workers' rows stays O(page) with a few
 * workers. Flagged jobs walk their small partial index; a workflow id its own
 * index; a date range under another sort is left to the planner (the range
 * on the created_at index, then a sort).
 */
function indexHint(q: JobQuery, sort: JobSort): string {
  if (q.flagged === true) return 'INDEXED BY jobs_flagged';
  if (q.worker && sort === 'created_at' && !q.workflowId) return 'INDEXED BY jobs_worker_created';
  if (q.workflowId) return '';
  const ranged = (q.since !== null && q.since !== undefined) || (q.until !== null && q.until !== undefined);
  if (ranged && sort !== 'created_at') return '';
  return `INDEXED BY ${SORT_INDEX[sort]}`;
}

/**
 * How rows are read in `sort` order: the index (indexHint) and the terms it
 * needs. The completion-time index holds finished jobs only (migration
 * 0010), which the term `ended_at IS NOT NULL` tells the planner; only
 * finished jobs are listed by completion time.
 */
function sortAccess(q: JobQuery, sort: JobSort): { hint: string; where: string[] } {
  return { hint: indexHint(q, sort), where: sort === 'ended_at' ? ['ended_at IS NOT NULL'] : [] };
}

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
  flagged: number;
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
    flagged: r.flagged !== 0,
    workflowId: r.workflow_id,
    durationMs: r.duration,
  };
}

/**
 * The matches of an FTS5 expression read lazily from one end of the rowid
 * order (newest first for a descending walk), kept once read. FTS5 (SQLite
 * 3.53) does not seek on a rowid constraint beside MATCH: `rowid = ?` is not
 * applied at all and a range is met by reading from the start, so a job is
 * looked up by reading on to its rowid. A walk in creation order meets rowids
 * in about the same order, so it reads about as far as it walks.
 */
class LazyMatches {
  private readonly read = new Set<number>();
  private readonly rows: IterableIterator<number>;
  private edge: number;
  private done = false;

  constructor(
    stmt: Database.Statement,
    expr: string,
    private readonly desc: boolean,
  ) {
    this.rows = stmt.iterate(expr) as IterableIterator<number>;
    this.edge = desc ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  }

  has(rowid: number): boolean {
    while (!this.done && (this.desc ? this.edge > rowid : this.edge < rowid)) {
      const next = this.rows.next();
      if (next.done) this.done = true;
      else {
        this.edge = next.value;
        this.read.add(next.value);
      }
    }
    return this.read.has(rowid);
  }

  close(): void {
    if (!this.done) this.rows.return?.();
    this.done = true;
  }
}

export class SqliteJobLister {
  private readonly cache = new Map<string, Database.Statement>();

  constructor(
    private readonly db: Database.Database,
    private readonly fewMatchesMax = FEW_MATCHES,
  ) {}

  private stmt(sql: string): Database.Statement {
    let s = this.cache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.cache.set(sql, s);
    }
    return s;
  }

  list(q: JobQuery): JobPage {
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
    const match = q.text ? ftsMatchQuery(q.text) : null;
    const filter = filterSql(q, match);
    const params: Record<string, unknown> = { ...filter.params };
    if (q.after) {
      params.v = q.after.value;
      params.id = q.after.id;
    }
    if (want !== null) params.n = want;
    const keyset = q.after ? [`(${col}, id) ${desc ? '<' : '>'} (@v, @id)`] : [];
    const tail = `ORDER BY ${col} ${dir}, id ${dir}${want === null ? '' : ' LIMIT @n'}`;

    let rows: ListRow[] = [];
    const walk = match !== null ? ftsWalkPlan(q.text ?? '') : null;
    // A walk in creation order meets rowids in about the order FTS5 reads them; other sorts scatter them.
    const byRowid = sort === 'created_at';
    let found: number[] | null = null;
    let merged = false;
    if (walk !== null) {
      // Read lazily, both counts are cheap: many whole-word matches make a common query; few
      // candidates a rare one. Between (a rare word whose longer forms are common, or not),
      // only FTS5's merge of the whole prefix could tell: the walk is tried with a budget first.
      // A scattered walk checks every row against its own text: only worth it for a common query.
      const common = this.moreThan(walk.whole, this.fewMatchesMax);
      const rare = !common && walk.candidates !== null && !this.moreThan(walk.candidates, this.fewMatchesMax);
      // Between, when FTS5's merge of every word's prefix is small, the common word's plan (the
      // matches read once, the index walked in SQL) beats stepping the driver's iterator row by row.
      merged = !common && !rare && this.prefixesMergeCheaply(walk.words);
      if (byRowid ? !rare && !merged : common) {
        const { hint, where } = sortAccess(q, sort);
        const terms = [...where, ...filter.where, ...keyset].map((w) => ` AND ${w}`).join('');
        const walker = this.stmt(
          `SELECT rowid AS r FROM jobs ${hint} WHERE status = @status${terms} ORDER BY ${col} ${dir}, id ${dir}`,
        ).pluck();
        found = this.walkText(
          walk,
          byRowid ? (desc ? 'desc' : 'asc') : null,
          (status) => walker.iterate({ ...params, status }) as IterableIterator<number>,
          statuses,
          want,
          !common || !byRowid,
        );
      }
    }
    const few = found === null && match !== null && !merged && this.fewMatches(match);
    if (found !== null) {
      rows = this.stmt(
        `SELECT ${COLUMNS} FROM jobs WHERE rowid IN (SELECT value FROM json_each(@rowids))`,
      ).all({ rowids: JSON.stringify(found) }) as ListRow[];
    } else if (few) {
      // A rare word: fetch its jobs by rowid and sort them, instead of walking history for them.
      const where = [`rowid IN (SELECT rowid FROM jobs_fts WHERE jobs_fts MATCH @match)`, ...filter.where];
      where.push('status IN (SELECT value FROM json_each(@statuses))', ...keyset);
      params.statuses = JSON.stringify(statuses);
      rows = this.stmt(`SELECT ${COLUMNS} FROM jobs NOT INDEXED WHERE ${where.join(' AND ')} ${tail}`).all(
        params,
      ) as ListRow[];
    } else if (match !== null) {
      // A common word: its matches are read once (a prefix query merges whole doclists, so
      // probing FTS5 row by row would cost that merge per row), then each status walks its index.
      const { hint, where: terms } = sortAccess(q, sort);
      const arms = statuses.map((status, i) => {
        const where = [`status = @s${i}`, ...terms, ...filter.where, ...keyset, 'rowid IN m'];
        params[`s${i}`] = status;
        return `SELECT * FROM (SELECT ${COLUMNS} FROM jobs ${hint} WHERE ${where.join(' AND ')} ${tail})`;
      });
      if (arms.length)
        rows = this.stmt(
          `WITH m(rowid) AS MATERIALIZED (SELECT rowid FROM jobs_fts WHERE jobs_fts MATCH @match) ${arms.join(' UNION ALL ')}`,
        ).all(params) as ListRow[];
    } else {
      const { hint, where: terms } = sortAccess(q, sort);
      const where = ['status = @status', ...terms, ...filter.where, ...keyset];
      const stmt = this.stmt(`SELECT ${COLUMNS} FROM jobs ${hint} WHERE ${where.join(' AND ')} ${tail}`);
      for (const status of statuses) rows = rows.concat(stmt.all({ ...params, status }) as ListRow[]);
    }
    const items = rows.map(toItem);
    const sign = desc ? -1 : 1;
    items.sort((a, b) => {
      const d = sortValue(a, sort) - sortValue(b, sort);
      return sign * (d !== 0 ? d : a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    });
    const page = limit === null ? items.slice(offset) : items.slice(offset, offset + limit);
    const hasMore = limit !== null && items.length > offset + limit;
    const last = page[page.length - 1];
    let total: number | null = null;
    if (q.countTotal !== false) {
      total =
        match !== null || filter.where.length > (q.workflowId ? 1 : 0)
          ? this.count(statuses, filter, match !== null)
          : this.total(statuses, q.workflowId ?? null);
    }
    return {
      jobs: page,
      total,
      hasMore,
      nextCursor: hasMore && last ? { value: sortValue(last, sort), id: last.id } : null,
    };
  }

  /**
   * The rowids of each status's walk that match the query, in walk order, at
   * most `want` per status. With `rowids` (the order the walk meets rowids
   * in), a row is decided by the index where it can be: in the whole words'
   * matches, it matches; outside the indexed prefixes' matches, it does not;
   * between, by the job's own text. Without, every row by its own text. `bounded` (a
   * query whose yield is not known): null once the text checks find too few
   * matches, for the caller to ask FTS5 instead.
   */
  private walkText(
    plan: FtsWalkPlan,
    rowids: 'asc' | 'desc' | null,
    walk: (status: JobStatus) => IterableIterator<number>,
    statuses: readonly JobStatus[],
    want: number | null,
    bounded: boolean,
  ): number[] | null {
    let checks = 0;
    let yielded = 0;
    const order = `SELECT rowid FROM jobs_fts WHERE jobs_fts MATCH ? ORDER BY rowid ${rowids === 'asc' ? 'ASC' : 'DESC'}`;
    // Two reads open at once: each its own statement.
    const lazily = (expr: string | null, slot: string) =>
      rowids === null || expr === null
        ? null
        : new LazyMatches(this.stmt(`/* ${slot} */ ${order}`).pluck(), expr, rowids === 'desc');
    const candidates = lazily(plan.candidates, 'candidates');
    const whole = plan.candidatesExact ? null : lazily(plan.whole, 'whole');
    // Matches for certain without reading the job's text: in the exact candidates, or in the whole words'.
    const sure = (r: number) => (candidates !== null && plan.candidatesExact) || (whole?.has(r) ?? false);
    const found: number[] = [];
    try {
      for (const status of statuses) {
        let n = 0;
        if (want === 0) break;
        for (const r of walk(status)) {
          if (candidates !== null && !candidates.has(r)) continue;
          if (!sure(r)) {
            checks++;
            if (!this.ownTextMatches(r, plan.words)) {
              // Few matches among many rows: FTS5 reads them faster than this walk finds them.
              if (bounded && checks > TEXT_CHECKS_FREE && yielded * TEXT_YIELD_MIN < checks) return null;
              continue;
            }
            yielded++;
          }
          found.push(r);
          if (want !== null && ++n >= want) break; // leaving the loop closes the walk
        }
      }
    } finally {
      candidates?.close();
      whole?.close();
    }
    return found;
  }

  /** Whether a job's own text holds every word as a prefix. */
  private ownTextMatches(rowid: number, words: readonly string[]): boolean {
    const row = this.stmt('SELECT name, prompt FROM jobs WHERE rowid = ?').get(rowid) as
      | { name: string | null; prompt: string }
      | undefined;
    const text = row ? storedSearchText(row) : null;
    return text !== null && hasEveryPrefix(text, words);
  }

  /**
   * Whether FTS5 merges the prefixes of `words` cheaply: at most MERGE_FACTOR
   * times fewMatchesMax jobs under each word longer than the indexed
   * prefixes (counted under its indexed prefix, read lazily). A word that
   * short is read from the prefix index, without a merge; a word of one
   * letter has none, and its merge takes every word of that letter.
   */
  private prefixesMergeCheaply(words: readonly string[]): boolean {
    const longest = Math.max(...INDEXED_PREFIXES);
    const cap = MERGE_FACTOR * this.fewMatchesMax;
    return words.every(
      (w) =>
        w.length >= Math.min(...INDEXED_PREFIXES) &&
        (w.length <= longest || !this.moreThan(`"${w.slice(0, longest)}"*`, cap)),
    );
  }

  /** Whether an FTS5 expression read lazily (no long prefix) matches more than `n` jobs. */
  private moreThan(expr: string, n: number): boolean {
    const row = this.stmt(
      'SELECT count(*) AS n FROM (SELECT rowid FROM jobs_fts WHERE jobs_fts MATCH ? LIMIT ?)',
    ).get(expr, n + 1) as { n: number };
    return row.n > n;
  }

  /** Whether a text query matches at most `fewMatchesMax` jobs (reads at most that many index entries). */
  private fewMatches(match: string): boolean {
    const row = this.stmt(
      'SELECT count(*) AS n FROM (SELECT rowid FROM jobs_fts WHERE jobs_fts MATCH ? LIMIT ?)',
    ).get(match, this.fewMatchesMax + 1) as { n: number };
    return row.n <= this.fewMatchesMax;
  }

  /** Rows matching every filter: O(matches), for queries that asked for a total. */
  private count(
    statuses: readonly JobStatus[],
    filter: { where: string[]; params: Record<string, unknown> },
    text: boolean,
  ): number {
    const where = ['status IN (SELECT value FROM json_each(@statuses))', ...filter.where];
    if (text) where.push('rowid IN (SELECT rowid FROM jobs_fts WHERE jobs_fts MATCH @match)');
    const row = this.stmt(`SELECT count(*) AS n FROM jobs WHERE ${where.join(' AND ')}`).get({
      ...filter.params,
      statuses: JSON.stringify(statuses),
    }) as { n: number };
    return row.n;
  }

  private total(statuses: readonly JobStatus[], workflowId: string | null): number {
    let n = 0;
    if (workflowId) {
      const s = this.stmt('SELECT count(*) AS n FROM jobs WHERE workflow_id = ? AND status = ?');
      for (const status of statuses) n += (s.get(workflowId, status) as { n: number }).n;
      return n;
    }
    const s = this.stmt('SELECT n FROM job_counts WHERE status = ?');
    for (const status of statuses) n += (s.get(status) as { n: number } | undefined)?.n ?? 0;
    return n;
  }

  /** The latest job that produced this file, if any. */
  jobForFile(type: string, subfolder: string, filename: string): string | null {
    const row = this.stmt(
      `SELECT j.id AS id FROM job_files f JOIN jobs j ON j.id = f.job_id
       WHERE f.type = ? AND f.subfolder = ? AND f.filename = ?
       ORDER BY j.ended_at DESC LIMIT 1`,
    ).get(type, subfolder, filename) as { id: string } | undefined;
    return row?.id ?? null;
  }

  /** The worker of the latest job that produced this file, if any. */
  workerForFile(type: string, subfolder: string, filename: string): string | null {
    const row = this.stmt(
      `SELECT j.worker AS worker FROM job_files f JOIN jobs j ON j.id = f.job_id
       WHERE f.type = ? AND f.subfolder = ? AND f.filename = ? AND j.worker IS NOT NULL
       ORDER BY j.ended_at DESC LIMIT 1`,
    ).get(type, subfolder, filename) as { worker: string } | undefined;
    return row?.worker ?? null;
  }
}
