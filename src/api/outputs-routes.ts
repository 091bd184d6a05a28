/** Collected output files: GET /api/pqueue/jobs/{id}/outputs/{n} (docs/outputs.md). */
import type { FastifyInstance } from 'fastify';
import { QueueError } from '../domain/errors.js';
import type { Engine } from '../engine/engine.js';
import type { Outputs } from '../outputs/outputs.js';
import { parseUuidParam } from './validate.js';

export function registerOutputsRoutes(app: FastifyInstance, engine: Engine, outputs: Outputs): void {
  app.get<{ Params: { id: string; n: string } }>('/api/pqueue/jobs/:id/outputs/:n', async (req, reply) => {
    const job = await engine.getOrThrow(parseUuidParam(req.params.id));
    const n = Number(req.params.n);
    if (!/^[1-9][0-9]{0,5}$/.test(req.params.n) || !Number.isSafeInteger(n)) {
      throw new QueueError(
        'OUTPUT_NOT_FOUND',
        'An output is numbered from 1, as its job lists it in collection.files.',
      );
    }
    const out = await outputs.open(job, n);
    reply.header('content-type', out.contentType);
    if (out.bytes !== null) reply.header('content-length', out.bytes);
    reply.header('content-disposition', `inline; filename="${out.key.slice(out.key.lastIndexOf('/') + 1)}"`);
    reply.header('cache-control', 'private, max-age=3600');
    return reply.send(out.body);
  });
}
