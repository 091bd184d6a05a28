/**
 * The query string of GET /api/pqueue/history (and the `filter` of
 * POST /api/pqueue/history/delete) turned into a JobQuery; a bad value is
 * 400 INVALID_QUERY, a bad cursor 400 INVALID_CURSOR.
 */
import { CursorError, decodeCursor, type SortOrder } from '../domain/cursor.js';
import { QueueError } from '../domain/errors.js';
import { FINISHED_STATUSES, type JobStatus } from '../domain/job.js';
import { JOB_SORTS, type JobQuery, type JobSort } from '../store/job-query.js';

export const HISTORY_DEFAULT_LIMIT = 50;
export const HISTORY_MAX_LIMIT = 500;

export interface HistoryFilterParams {
  status?: string | string[];
  since?: string;
  until?: string;
  q?: string;
  workflow_id?: string;
  worker?: string;
  flagged?: string | boolean;
}

export interface HistoryParams extends HistoryFilterParams {
  sort?: string;
  order?: string;
  limit?: string;
  cursor?: string;
  count?: string;
}

function bad(message: string): never {
  throw new QueueError('INVALID_QUERY', message);
}

function statuses(raw: string | string[] | undefined): JobStatus[] {
  const list = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw])
    .flatMap((s) => s.split(','))
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const wrong = list.filter((s) => !(FINISHED_STATUSES as readonly string[]).includes(s));
  if (wrong.length)
    bad(`status: ${wrong.join(', ')} is not a history status (${FINISHED_STATUSES.join(', ')})`);
  return list.length ? [...new Set(list as JobStatus[])] : [...FINISHED_STATUSES];
}

/** An ISO 8601 date-time (a date alone is midnight UTC) or milliseconds since the epoch. */
export function parseTime(raw: string | undefined, name: string): number | null {
  if (raw === undefined || raw.trim() === '') return null;
  const t = /^\d{1,15}$/.test(raw.trim())
    ? Number(raw)
    : /^\d{4}-\d{2}-\d{2}/.test(raw)
      ? Date.parse(raw)
      : Number.NaN;
  if (!Number.isFinite(t)) bad(`${name}: "${raw.slice(0, 60)}" is not an ISO 8601 date-time`);
  return t;
}

function flag(raw: string | boolean | undefined): boolean | null {
  if (raw === undefined || raw === '') return null;
  if (raw === true || raw === 'true' || raw === '1') return true;
  if (raw === false || raw === 'false' || raw === '0') return false;
  return bad('flagged must be true or false');
}

export function historyFilter(p: HistoryFilterParams): JobQuery {
  const since = parseTime(p.since, 'since');
  const until = parseTime(p.until, 'until');
  if (p.q !== undefined && p.q.length > 500) bad('q: at most 500 characters');
  return {
    statuses: statuses(p.status),
    since,
    until,
    text: p.q?.trim() ? p.q : null,
    workflowId: p.workflow_id || null,
    worker: p.worker || null,
    flagged: flag(p.flagged),
  };
}

export function historyQuery(
  p: HistoryParams,
): JobQuery & { sort: JobSort; order: SortOrder; limit: number } {
  const sort = (p.sort ?? 'created_at') as JobSort;
  if (!JOB_SORTS.includes(sort)) bad(`sort must be one of ${JOB_SORTS.join(', ')}`);
  const order = (p.order ?? 'desc').toLowerCase();
  if (order !== 'asc' && order !== 'desc') bad('order must be asc or desc');
  let limit = HISTORY_DEFAULT_LIMIT;
  if (p.limit !== undefined) {
    if (!/^\d{1,6}$/.test(p.limit) || Number(p.limit) < 1) bad('limit must be a positive integer');
    limit = Math.min(HISTORY_MAX_LIMIT, Number(p.limit));
  }
  let after = null;
  if (p.cursor) {
    try {
      const c = decodeCursor(p.cursor, [sort], order);
      after = { value: c.value, id: c.id };
    } catch (err) {
      if (err instanceof CursorError) throw new QueueError('INVALID_CURSOR', err.message);
      throw err;
    }
  }
  return {
    ...historyFilter(p),
    sort,
    order,
    limit,
    after,
    countTotal: p.count === 'true' || p.count === '1',
  };
}
