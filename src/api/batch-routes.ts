/**
 * /api/pqueue/batches: one workflow run many times (seeds, traits, a sweep),
 * created in one transaction, followed and steered as a whole.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { batchNameProblem } from '../domain/batch-spec.js';
import { THROUGHPUT_SPANS, type ThroughputSpan } from '../domain/batch-throughput.js';
import { QueueError } from '../domain/errors.js';
import type { PromptGraph } from '../domain/job.js';
import type { BatchService } from '../engine/batches.js';
import { batchJson } from './batch-json.js';
import type { ComfyWorkers } from './comfy-workers.js';
import { readEnqueueBody } from './enqueue-body.js';
import { parseWith } from './validate.js';
import { convertOnWorkers, validateOnWorkers } from './worker-validation.js';

const BatchBody = z.looseObject({
  name: z.string(),
  count: z.unknown().optional(),
  seed: z.unknown().optional(),
  items: z.unknown().optional(),
  sweep: z.unknown().optional(),
  bindings: z.unknown().optional(),
  weight: z.number().positive().max(1_000_000).optional(),
});

/** The fields the batch body shares with a job's (read by the jobs route's own reader). */
const JOB_FIELDS = ['prompt', 'workflow', 'extra_data', 'priority', 'client_id', 'requires'];

const PatchBody = z.strictObject({
  name: z.string().optional(),
  priority: z.number().int().min(-1_000_000).max(1_000_000).optional(),
  weight: z.number().positive().max(1_000_000).optional(),
});

const BatchId = z.coerce.number().int().positive();

const ThroughputQuery = z.strictObject({
  span: z
    .enum(THROUGHPUT_SPANS as [ThroughputSpan, ...ThroughputSpan[]], {
      error: `span must be one of ${THROUGHPUT_SPANS.join(', ')}`,
    })
    .default('life'),
});

export function registerBatchRoutes(
  app: FastifyInstance,
  batches: BatchService,
  workers?: ComfyWorkers,
): void {
  const idOf = (raw: string) => parseWith(BatchId, raw, 'BATCH_NOT_FOUND');

  app.post('/api/pqueue/batches', async (req, reply) => {
    const body = parseWith(BatchBody, req.body);
    const jobPart = Object.fromEntries(Object.entries(body).filter(([k]) => JOB_FIELDS.includes(k)));
    const unknown = Object.keys(body).filter(
      (k) =>
        !JOB_FIELDS.includes(k) &&
        !['name', 'count', 'seed', 'items', 'sweep', 'bindings', 'weight'].includes(k),
    );
    if (unknown.length)
      throw new QueueError(
        'INVALID_BODY',
        `Unknown field ${unknown.map((k) => `"${k.slice(0, 60)}"`).join(', ')}.`,
      );
    const sent = readEnqueueBody(jobPart);
    let prompt: PromptGraph;
    let workflow = sent.fields.workflow;
    if (sent.kind === 'workflow') {
      const converted = await convertOnWorkers(workers, sent.workflow);
      if (!converted) throw new QueueError('NO_WORKER_INFO');
      if (!converted.ok)
        throw new QueueError(
          'WORKFLOW_UNCONVERTIBLE',
          `The UI workflow cannot be converted: ${converted.refusal.message}.`,
          converted.refusal,
        );
      prompt = converted.prompt as PromptGraph;
      workflow = sent.workflow;
    } else {
      prompt = sent.prompt;
    }
    // The template is checked once, as ComfyUI's POST /prompt checks a graph.
    const checked = workers ? await validateOnWorkers(workers, prompt, null) : null;
    if (checked && !checked.ok) {
      const { error, node_errors } = checked.body;
      return reply.code(400).send({ error: { code: 'INVALID_PROMPT', ...error }, node_errors });
    }
    const created = await batches.create({
      name: body.name,
      prompt,
      workflow,
      extraData: sent.fields.extra_data,
      priority: sent.fields.priority,
      weight: body.weight,
      requires: sent.fields.requires,
      clientId: sent.fields.client_id,
      count: body.count,
      seed: body.seed,
      items: body.items,
      sweep: body.sweep,
      bindings: body.bindings,
    });
    return reply.code(201).send(batchJson(created));
  });

  app.get('/api/pqueue/batches', async () => ({ batches: (await batches.list()).map(batchJson) }));

  app.get<{ Params: { id: string } }>('/api/pqueue/batches/:id', async (req) =>
    batchJson(await batches.progress(idOf(req.params.id))),
  );

  app.get<{ Params: { id: string }; Querystring: Record<string, unknown> }>(
    '/api/pqueue/batches/:id/throughput',
    async (req) => {
      const id = idOf(req.params.id);
      const { span } = parseWith(ThroughputQuery, req.query ?? {}, 'INVALID_QUERY');
      const t = await batches.throughput(id, span);
      return {
        batch_id: t.batchId,
        span: t.span,
        from: t.window.from,
        bucket_ms: t.window.bucketMs,
        buckets: t.buckets,
      };
    },
  );

  app.patch<{ Params: { id: string } }>('/api/pqueue/batches/:id', async (req) => {
    const id = idOf(req.params.id);
    const patch = parseWith(PatchBody, req.body ?? {});
    if (patch.name !== undefined) {
      const problem = batchNameProblem(patch.name);
      if (problem) throw new QueueError('INVALID_BATCH', `Invalid batch: ${problem}.`);
    }
    await batches.update(id, patch);
    return batchJson(await batches.progress(id));
  });

  app.delete<{ Params: { id: string } }>('/api/pqueue/batches/:id', async (req) => {
    const id = idOf(req.params.id);
    await batches.delete(id);
    return { deleted: id };
  });

  app.post<{ Params: { id: string } }>('/api/pqueue/batches/:id/pause', async (req) => {
    const id = idOf(req.params.id);
    await batches.pause(id);
    return batchJson(await batches.progress(id));
  });

  app.post<{ Params: { id: string } }>('/api/pqueue/batches/:id/resume', async (req) => {
    const id = idOf(req.params.id);
    await batches.resume(id);
    return batchJson(await batches.progress(id));
  });

  app.post<{ Params: { id: string } }>('/api/pqueue/batches/:id/cancel', async (req) => {
    const id = idOf(req.params.id);
    const r = await batches.cancel(id);
    return { ...batchJson(await batches.progress(id)), cancelled: r.cancelled, interrupted: r.interrupted };
  });

  app.post<{ Params: { id: string } }>('/api/pqueue/batches/:id/requeue-failed', async (req) => {
    const id = idOf(req.params.id);
    const jobs = await batches.rerun(id, { kind: 'failed' });
    return { ...batchJson(await batches.progress(id)), requeued: jobs.length };
  });

  app.post<{ Params: { id: string } }>('/api/pqueue/batches/:id/rerender-flagged', async (req) => {
    const id = idOf(req.params.id);
    const jobs = await batches.rerun(id, { kind: 'flagged' });
    return { ...batchJson(await batches.progress(id)), requeued: jobs.length };
  });
}
