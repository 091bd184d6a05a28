/** The /api/pqueue API: comfy-queue's own queue management (seed 000). */
import type { FastifyInstance } from 'fastify';
import { QueueError } from '../domain/errors.js';
import type { PromptGraph } from '../domain/job.js';
import type { NodeErrors } from '../domain/prompt-graph.js';
import type { Engine } from '../engine/engine.js';
import type { ProgressBook } from '../engine/progress-book.js';
import type { Outputs } from '../outputs/outputs.js';
import type { QueueEstimates } from './admin-routes.js';
import type { ComfyWorkers } from './comfy-workers.js';
import { readEnqueueBody } from './enqueue-body.js';
import { jobJson } from './job-json.js';
import { DeleteBody, FlagBody, PriorityBody, RenameBody, ReorderBody, RequeueBody } from './schemas.js';
import { parseUuidParam, parseWith } from './validate.js';
import { convertOnWorkers, validateOnWorkers } from './worker-validation.js';

export function registerPqueueRoutes(
  app: FastifyInstance,
  engine: Engine,
  progress: ProgressBook,
  estimates?: QueueEstimates,
  workers?: ComfyWorkers,
  outputs?: Outputs,
): void {
  app.post('/api/pqueue/jobs', async (req, reply) => {
    const sent = readEnqueueBody(req.body);
    const b = sent.fields;
    let prompt: PromptGraph;
    let workflow = b.workflow;
    if (sent.kind === 'workflow') {
      const converted = await convertOnWorkers(workers, sent.workflow);
      if (!converted) throw new QueueError('NO_WORKER_INFO');
      if (!converted.ok) {
        const r = converted.refusal;
        throw new QueueError(
          'WORKFLOW_UNCONVERTIBLE',
          `The UI workflow cannot be converted: ${r.message}.`,
          r,
        );
      }
      prompt = converted.prompt as PromptGraph;
      workflow = sent.workflow;
    } else {
      prompt = sent.prompt;
    }
    // Checked as ComfyUI's POST /prompt checks it; with no worker's object_info known, at dispatch instead.
    let targets = b.partial_execution_targets ?? null;
    let nodeErrors: NodeErrors = {};
    const checked = workers ? await validateOnWorkers(workers, prompt, targets) : null;
    if (checked && !checked.ok) {
      const { error, node_errors } = checked.body;
      return reply.code(400).send({ error: { code: 'INVALID_PROMPT', ...error }, node_errors });
    }
    if (checked?.ok) {
      // The graph is stored as sent, not ComfyUI's coerced copy: that copy unwraps `{"__value__": [...]}`
      // into a bare list, which the worker would read as a link when the job is sent to it.
      nodeErrors = checked.nodeErrors;
      // As ComfyUI does: outputs that failed are left out, the others run.
      if (Object.keys(nodeErrors).length > 0) targets ??= checked.outputs;
    }
    const job = await engine.enqueue({
      prompt,
      workflow,
      extraData: b.extra_data,
      name: b.name,
      priority: b.priority,
      promptId: b.prompt_id,
      clientId: b.client_id,
      front: b.front,
      targets,
      requires: b.requires,
    });
    return reply.code(201).send({ ...jobJson(job, { full: true }), node_errors: nodeErrors });
  });

  app.get<{ Params: { id: string } }>('/api/pqueue/jobs/:id', async (req) => {
    const job = await engine.getOrThrow(parseUuidParam(req.params.id));
    return {
      ...jobJson(job, {
        full: true,
        progress: progress.get(job.id) ?? undefined,
        waiting: job.status === 'pending' ? engine.waitingOf(job.id) : undefined,
      }),
      ...(outputs ? { collection: await outputs.collectionOf(job) } : {}),
    };
  });

  app.get<{ Querystring: { limit?: string } }>('/api/pqueue', async (req) => {
    const limit = clampInt(req.query.limit, 500, 1, 10_000);
    const [running, pending, counts] = await Promise.all([
      engine.store.listInProgress(),
      engine.store.listPending(limit),
      engine.store.counts(),
    ]);
    const est = estimates?.(running, pending);
    const health = engine.store.health();
    return {
      paused: engine.isPaused,
      // Whether writes work: "full" (STORE_FULL), "locked" (STORE_BUSY) or "unavailable" (STORE_UNAVAILABLE) until they do again.
      store: { state: health.state, message: health.message, since: health.since },
      running: running.map((j) => ({
        ...jobJson(j, { progress: progress.get(j.id) }),
        estimate: est?.get(j.id) ?? null,
      })),
      pending: pending.map((j) => ({
        ...jobJson(j, { waiting: engine.waitingOf(j.id) }),
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
