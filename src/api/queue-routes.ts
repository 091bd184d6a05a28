/**
 * Handling big queues (docs/api.md "Handling the queue"): POST /api/pqueue/bulk
 * deletes or moves a selection — listed ids, or every pending job matching a
 * search (the whole queue without one) less some ids — and
 * POST /api/pqueue/jobs/:id/move moves one job one place.
 */
import type { FastifyInstance } from 'fastify';
import type { Engine } from '../engine/engine.js';
import { bulk, moveByOne, type Selection } from '../engine/queue-handling.js';
import { jobJson } from './job-json.js';
import { BulkBody, MoveBody } from './schemas.js';
import { parseUuidParam, parseWith } from './validate.js';

export function registerQueueRoutes(app: FastifyInstance, engine: Engine): void {
  app.post('/api/pqueue/bulk', async (req) => {
    const b = parseWith(BulkBody, req.body);
    const sel: Selection = 'prompt_ids' in b ? { ids: b.prompt_ids } : { match: b.match, except: b.except };
    return bulk(engine, b.action, sel);
  });

  app.post<{ Params: { id: string } }>('/api/pqueue/jobs/:id/move', async (req) => {
    const id = parseUuidParam(req.params.id);
    const b = parseWith(MoveBody, req.body);
    const moved = await moveByOne(engine, id, b.by);
    return { moved, job: jobJson(await engine.getOrThrow(id)) };
  });
}
