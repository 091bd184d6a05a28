/**
 * ComfyUI's queue routes answered by comfy-queue, each at `/x` and `/api/x`
 * (comfyui-protocol.md §2.3–2.9): /prompt, /queue, /history, /interrupt.
 * Mutating routes answer 200 with an empty body, as ComfyUI does.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { QueueError } from '../domain/errors.js';
import { FINISHED_STATUSES, type Job, type JobStatus } from '../domain/job.js';
import type { Engine } from '../engine/engine.js';
import { historyEntry, queueTuple } from './comfy-format.js';
import { postPrompt } from './comfy-prompt.js';
import type { ComfyWorkers } from './comfy-workers.js';
import { clampQueryInt } from './validate.js';

/** /queue lists at most this many pending jobs (ComfyUI lists all; its queue lives in memory). */
const QUEUE_LIST_MAX = 10_000;
/** /history without parameters: the latest entries, as many as ComfyUI keeps. */
const HISTORY_MAX = 10_000;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function both(path: string): string[] {
  return [path, `/api${path}`];
}

function empty(reply: FastifyReply): FastifyReply {
  return reply.code(200).send();
}

export function registerComfyRoutes(app: FastifyInstance, engine: Engine, workers: ComfyWorkers): void {
  const store = engine.store;
  const info = () => workers.known()[0]?.info ?? null;

  for (const path of both('/prompt')) {
    app.post(path, async (req, reply) => {
      const usage = req.headers['comfy-usage-source'];
      const a = await postPrompt(engine, workers, req.body, typeof usage === 'string' ? usage : undefined);
      return reply.code(a.status).send(a.body);
    });
    app.get(path, async () => {
      const c = await store.counts();
      return { exec_info: { queue_remaining: c.pending + c.in_progress } };
    });
  }

  for (const path of both('/queue')) {
    app.get(path, async () => {
      const [held, pending] = await Promise.all([store.listInProgress(), store.listPending(QUEUE_LIST_MAX)]);
      // A job waiting in a worker's own queue has not started: ComfyUI would show it as pending.
      const waiting = engine.waitingJobIds();
      const i = info();
      return {
        queue_running: held.filter((j) => !waiting.has(j.id)).map((j) => queueTuple(j, i)),
        queue_pending: [...held.filter((j) => waiting.has(j.id)), ...pending].map((j) => queueTuple(j, i)),
      };
    });
    app.post(path, async (req, reply) => {
      const body = isObject(req.body) ? req.body : {};
      if (body.clear) await deleteAll(engine, ['pending']);
      if (Array.isArray(body.delete)) await deleteIn(engine, body.delete.map(String), ['pending']);
      return empty(reply);
    });
  }

  for (const path of both('/history')) {
    app.get<{ Querystring: { max_items?: string; offset?: string } }>(path, async (req) => {
      const maxItems = intParam(req.query.max_items, 'max_items');
      const offset = intParam(req.query.offset, 'offset');
      const jobs = await historyJobs(engine, maxItems, offset);
      const i = info();
      const out: Record<string, unknown> = {};
      for (const job of jobs) out[job.id] = historyEntry(job, i);
      return out;
    });
    app.post(path, async (req, reply) => {
      const body = isObject(req.body) ? req.body : {};
      if (body.clear) await deleteAll(engine, FINISHED_STATUSES);
      if (Array.isArray(body.delete)) await deleteIn(engine, body.delete.map(String), FINISHED_STATUSES);
      return empty(reply);
    });
  }
  for (const path of both('/history/:id')) {
    app.get<{ Params: { id: string } }>(path, async (req) => {
      const job = await store.get(req.params.id);
      if (!job || !FINISHED_STATUSES.includes(job.status)) return {};
      return { [job.id]: historyEntry(job, info()) };
    });
  }

  for (const path of both('/interrupt')) {
    app.post(path, async (req, reply) => {
      const pid = isObject(req.body) ? req.body.prompt_id : undefined;
      // Without a prompt_id ComfyUI interrupts what runs, never what waits: jobs held ahead stay.
      const waiting = engine.waitingJobIds();
      const targets =
        typeof pid === 'string' && pid
          ? [await store.get(pid)].filter((j): j is Job => j?.status === 'in_progress')
          : (await store.listInProgress()).filter((j) => !waiting.has(j.id));
      for (const job of targets) await engine.cancel(job.id).catch(ignoreFinished);
      return empty(reply);
    });
  }
}

function ignoreFinished(err: unknown): void {
  if (!(err instanceof QueueError)) throw err;
}

function intParam(raw: string | undefined, name: string): number | null {
  if (raw === undefined) return null;
  if (!/^\s*[+-]?\d+\s*$/.test(raw)) throw new QueueError('INVALID_QUERY', `${name} must be an integer`);
  return clampQueryInt(Number.parseInt(raw, 10));
}

/**
 * ComfyUI's history order is completion order, oldest first. Without
 * `offset`, `max_items` = the last N; with it, N from index `offset`.
 */
async function historyJobs(engine: Engine, maxItems: number | null, offset: number | null): Promise<Job[]> {
  const q = { statuses: FINISHED_STATUSES, sort: 'ended_at' as const };
  let ids: string[];
  if (offset === null || offset < 0) {
    const n = maxItems === null ? HISTORY_MAX : Math.max(0, Math.min(maxItems, HISTORY_MAX));
    const page = await engine.store.listJobs({ ...q, order: 'desc', limit: n });
    ids = page.jobs.map((j) => j.id).reverse();
  } else {
    const page = await engine.store.listJobs({
      ...q,
      order: 'asc',
      offset,
      limit: maxItems === null ? HISTORY_MAX : Math.max(0, Math.min(maxItems, HISTORY_MAX)),
    });
    ids = page.jobs.map((j) => j.id);
  }
  const jobs = await Promise.all(ids.map((id) => engine.store.get(id)));
  return jobs.filter((j): j is Job => j !== null);
}

async function deleteIn(engine: Engine, ids: string[], statuses: readonly JobStatus[]): Promise<void> {
  const keep: string[] = [];
  for (const id of ids) {
    const job = await engine.store.get(id);
    if (job && statuses.includes(job.status)) keep.push(id);
  }
  if (keep.length) await engine.delete(keep);
}

async function deleteAll(engine: Engine, statuses: readonly JobStatus[]): Promise<void> {
  for (;;) {
    const page = await engine.store.listJobs({ statuses, limit: 5_000 });
    if (page.jobs.length === 0) return;
    const { deleted } = await engine.delete(page.jobs.map((j) => j.id));
    if (deleted.length === 0) return;
  }
}
