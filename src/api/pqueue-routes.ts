/** The /api/pqueue API: comfy-queue's own queue management (seed 000). */
import type { FastifyInstance } from 'fastify';
import type { Engine } from '../engine/engine.js';
import type { ProgressBook } from '../engine/progress-book.js';
import type { QueueEstimates } from './admin-routes.js';
import { jobJson } from './job-json.js';
import {
  DeleteBody,
  EnqueueBody,
  FlagBody,
  PriorityBody,
  RenameBody,
  ReorderBody,
  RequeueBody,
} from './schemas.js';
import { parseUuidParam, parseWith } from './validate.js';

export function registerPqueueRoutes(
  app: FastifyInstance,
  engine: Engine,
  progress: ProgressBook,
  estimates?: QueueEstimates,
): void {
  app.post('/api/pqueue/jobs', async (req, reply) => {
    const b = parseWith(EnqueueBody, req.body);
    const job = await engine.enqueue({
      prompt: b.prompt,
      workflow: b.workflow,
      extraData: b.extra_data,
      name: b.name,
      priority: b.priority,
      promptId: b.prompt_id,
      clientId: b.client_id,
      front: b.front,
      targets: b.partial_execution_targets,
    });
    return reply.code(201).send(jobJson(job, { full: true }));
  });

  app.get<{ Params: { id: string } }>('/api/pqueue/jobs/:id', async (req) => {
    const job = await engine.getOrThrow(parseUuidParam(req.params.id));
    return jobJson(job, {
      full: true,
      progress: progress.get(job.id) ?? undefined,
      waiting: job.status === 'pending' ? engine.holdOf(job.id) : undefined,
    });
  });

  app.get<{ Querystring: { limit?: string } }>('/api/pqueue', async (req) => {
    const limit = clampInt(req.query.limit, 500, 1, 10_000);
    const [running, pending, counts] = await Promise.all([
      engine.store.listInProgress(),
      engine.store.listPending(limit),
      engine.store.counts(),
    ]);
    const est = estimates?.(running, pending);
    return {
      paused: engine.isPaused,
      running: running.map((j) => ({
        ...jobJson(j, { progress: progress.get(j.id) }),
        estimate: est?.get(j.id) ?? null,
      })),
      pending: pending.map((j) => ({
        ...jobJson(j, { waiting: engine.holdOf(j.id) }),
        estimate: est?.get(j.id) ?? null,
      })),
      pending_total: counts.pending,
      counts,
    };
  });

  app.post('/api/pqueue/pause', async () => {
    await engine.pause();
    return { paused: true };
  });

  app.post('/api/pqueue/resume', async () => {
    await engine.resume();
    return { paused: false };
  });

  app.post('/api/pqueue/reorder', async (req) => {
    const b = parseWith(ReorderBody, req.body);
    await engine.reorder(b.prompt_ids);
    return { ok: true };
  });

  app.patch('/api/pqueue/priority', async (req) => {
    const b = parseWith(PriorityBody, req.body);
    return jobJson(await engine.setPriority(b.prompt_id, b.priority));
  });

  app.patch('/api/pqueue/rename', async (req) => {
    const b = parseWith(RenameBody, req.body);
    const name = b.name?.trim() ? b.name.trim() : null;
    return jobJson(await engine.rename(b.prompt_id, name));
  });

  app.post('/api/pqueue/delete', async (req) => {
    const b = parseWith(DeleteBody, req.body);
    return engine.delete(b.prompt_ids);
  });

  app.post<{ Params: { id: string } }>('/api/pqueue/jobs/:id/cancel', async (req) => {
    return jobJson(await engine.cancel(parseUuidParam(req.params.id)));
  });

  app.post<{ Params: { id: string } }>('/api/pqueue/jobs/:id/requeue', async (req, reply) => {
    const b = parseWith(RequeueBody, req.body ?? undefined);
    const job = await engine.requeue(parseUuidParam(req.params.id), {
      newSeed: b?.new_seed,
      priority: b?.priority,
    });
    return reply.code(201).send(jobJson(job, { full: true }));
  });

  app.post<{ Params: { id: string } }>('/api/pqueue/jobs/:id/flag', async (req) => {
    const b = parseWith(FlagBody, req.body);
    return jobJson(await engine.setFlagged(parseUuidParam(req.params.id), b.flagged));
  });
}

function clampInt(raw: string | undefined, dflt: number, min: number, max: number): number {
  const n = raw === undefined ? dflt : Number.parseInt(raw, 10);
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : dflt;
}
