/**
 * ComfyUI's /api/jobs family (comfyui-protocol.md §5, seed 003), only under
 * /api as in ComfyUI. The listing runs in the store on indexes; the keyset
 * cursor (`after`, `pagination.next_cursor`) is honoured for the created_at
 * sort, like ComfyUI; offset/limit work for every sort. Parameter errors use
 * ComfyUI's `{"error": "<message>"}`; a bad cursor is 400 INVALID_CURSOR.
 */
import type { FastifyInstance } from 'fastify';
import { CursorError, decodeCursor, encodeCursor, type SortOrder } from '../domain/cursor.js';
import { QueueError } from '../domain/errors.js';
import { isCanonicalUuid } from '../domain/ids.js';
import { JOB_STATUSES, type JobStatus, workflowIdOf } from '../domain/job.js';
import type { Engine } from '../engine/engine.js';
import type { JobSort } from '../store/job-query.js';
import { apiJob, apiJobFull } from './comfy-format.js';
import { clampQueryInt } from './validate.js';

/** A listing without `limit` gets this many jobs (ComfyUI has no cap; its web UI needs a numeric limit). */
export const DEFAULT_JOBS_LIMIT = 1_000;

/** The sort that takes a cursor, as in ComfyUI. */
const CURSOR_SORT = 'created_at';

const SORTS: Record<string, JobSort> = {
  created_at: 'created_at',
  create_time: 'created_at',
  execution_duration: 'execution_duration',
  execution_time: 'execution_duration',
};

class ParamError extends Error {}

export interface JobsQuery {
  status?: string;
  workflow_id?: string;
  sort_by?: string;
  sort_order?: string;
  limit?: string;
  offset?: string;
  after?: string;
}

function parseStatuses(raw: string | undefined): JobStatus[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const list = raw
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const bad = list.filter((s) => !(JOB_STATUSES as readonly string[]).includes(s));
  if (bad.length) {
    throw new ParamError(
      `Invalid status value(s): ${bad.join(', ')}. Valid values: ${JOB_STATUSES.join(', ')}`,
    );
  }
  return list as JobStatus[];
}

function parseInteger(raw: string | undefined, name: string): number | null {
  if (raw === undefined) return null;
  if (!/^\s*[+-]?\d+\s*$/.test(raw)) throw new ParamError(`${name} must be an integer`);
  return clampQueryInt(Number.parseInt(raw, 10));
}

export function registerComfyJobsRoutes(app: FastifyInstance, engine: Engine): void {
  app.get<{ Querystring: JobsQuery }>('/api/jobs', async (req, reply) => {
    const q = req.query;
    let statuses: JobStatus[] | undefined;
    let sort: JobSort;
    let order: SortOrder;
    let limit: number | null;
    let offset: number;
    try {
      statuses = parseStatuses(q.status);
      const sortRaw = (q.sort_by ?? 'created_at').toLowerCase();
      const s = SORTS[sortRaw];
      if (!s) throw new ParamError("sort_by must be 'created_at' or 'execution_duration'");
      sort = s;
      const o = (q.sort_order ?? 'desc').toLowerCase();
      if (o !== 'asc' && o !== 'desc') throw new ParamError("sort_order must be 'asc' or 'desc'");
      order = o;
      limit = parseInteger(q.limit, 'limit');
      if (limit !== null && limit <= 0) throw new ParamError('limit must be a positive integer');
      offset = Math.max(0, parseInteger(q.offset, 'offset') ?? 0);
    } catch (err) {
      if (err instanceof ParamError) return reply.code(400).send({ error: err.message });
      throw err;
    }
    let after = null;
    if (q.after !== undefined && sort === CURSOR_SORT) {
      try {
        const c = decodeCursor(q.after, [CURSOR_SORT], order);
        after = { value: c.value, id: c.id };
      } catch (err) {
        if (err instanceof CursorError)
          return reply.code(400).send({ error: { code: 'INVALID_CURSOR', message: err.message } });
        throw err;
      }
    }
    const effectiveLimit = limit ?? DEFAULT_JOBS_LIMIT;
    const page = await engine.store.listJobs({
      statuses,
      workflowId: q.workflow_id || null,
      sort,
      order,
      limit: effectiveLimit,
      offset,
      after,
    });
    const next =
      sort === CURSOR_SORT && page.nextCursor
        ? encodeCursor({ sort: CURSOR_SORT, value: page.nextCursor.value, id: page.nextCursor.id, order })
        : null;
    // A job waiting in a worker's own queue has not started: ComfyUI's UI shows it as pending.
    const waiting = engine.waitingJobIds();
    const jobs = page.jobs.map((j) => apiJob(waiting.has(j.id) ? { ...j, status: 'pending' } : j));
    return {
      jobs,
      pagination: {
        offset,
        limit: effectiveLimit,
        total: page.total,
        has_more: page.hasMore,
        next_cursor: next,
      },
    };
  });

  app.get<{ Params: { id: string } }>('/api/jobs/:id', async (req, reply) => {
    const job = await engine.store.get(req.params.id);
    if (!job) return reply.code(404).send({ error: 'Job not found' });
    return apiJobFull(job, workflowIdOf(job));
  });

  app.post<{ Params: { id: string } }>('/api/jobs/:id/cancel', async (req) => {
    return { cancelled: await cancelOne(engine, req.params.id) };
  });

  app.post('/api/jobs/cancel', async (req, reply) => {
    const body = req.body as { job_ids?: unknown } | null | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      return reply.code(400).send({ error: 'Request body must be valid JSON' });
    }
    if (!Array.isArray(body.job_ids)) return reply.code(400).send({ error: 'job_ids must be a list' });
    const invalid = body.job_ids.filter((id) => !isCanonicalUuid(id));
    if (invalid.length) {
      return reply.code(400).send({ error: 'job_ids contains invalid id(s)', invalid_ids: invalid });
    }
    let any = false;
    for (const id of body.job_ids as string[]) if (await cancelOne(engine, id)) any = true;
    return { cancelled: any };
  });
}

/** Pending → cancelled at once; running → interrupted on its worker; anything else → false. */
async function cancelOne(engine: Engine, id: string): Promise<boolean> {
  const job = await engine.store.get(id);
  if (!job || (job.status !== 'pending' && job.status !== 'in_progress')) return false;
  try {
    await engine.cancel(id);
    return true;
  } catch (err) {
    if (err instanceof QueueError) return false;
    throw err;
  }
}
