/**
 * JobStore.listJobs on SQLite. One keyset walk per requested status over the
 * (status, sort key, id) indexes, each fetching at most offset + limit + 1
 * rows, merged here; totals come from the trigger-kept `job_counts` (or an
 * index count when filtered by workflow). So a page reads O(statuses ×
 * (offset + limit)) index entries whatever the table holds.
 */
import type Database from 'better-sqlite3';
import {
  FINISHED_STATUSES,
  JOB_STATUSES,
  type JobError,
  type JobOutputs,
  type JobStatus,
} from '../../domain/job.js';
import { type JobListItem, type JobPage, type JobQuery, type JobSort, sortValue } from '../job-query.js';

const COLUMNS = `id, name, status, priority, position, created_at, started_at, ended_at, worker, attempts,
  error, outputs, client_id, flagged, workflow_id, duration`;

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
  flagged: number;
  workflow_id: string | null;
  duration: number;
}

function toItem(r: ListRow): JobListItem {
  return {
    id: r.id,
    name: r.name,
    status: r.status,
    priority: r.priority,
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

export class SqliteJobLister {
  private readonly cache = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

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

    const where = ['status = @status'];
    if (q.workflowId) where.push('workflow_id = @wf');
    if (q.after) where.push(`(${col}, id) ${desc ? '<' : '>'} (@v, @id)`);
    const sql = `SELECT ${COLUMNS} FROM jobs WHERE ${where.join(' AND ')}
      ORDER BY ${col} ${dir}, id ${dir}${want === null ? '' : ' LIMIT @n'}`;
    const stmt = this.stmt(sql);

    let rows: ListRow[] = [];
    for (const status of statuses) {
      const params: Record<string, unknown> = { status };
      if (q.workflowId) params.wf = q.workflowId;
      if (q.after) {
        params.v = q.after.value;
        params.id = q.after.id;
      }
      if (want !== null) params.n = want;
      rows = rows.concat(stmt.all(params) as ListRow[]);
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
    return {
      jobs: page,
      total: this.total(statuses, q.workflowId ?? null),
      hasMore,
      nextCursor: hasMore && last ? { value: sortValue(last, sort), id: last.id } : null,
    };
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
