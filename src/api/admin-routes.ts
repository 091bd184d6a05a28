/**
 * The live monitor's polling routes (seed 001): GET /api/admin/queue, the job
 * cards, and GET /api/admin/telemetry, the gauges. The event websocket pushes
 * the same data; these are for polling clients and its fallback.
 */
import type { FastifyInstance } from 'fastify';
import type { Job } from '../domain/job.js';
import type { JobEstimate } from '../engine/duration-index.js';
import type { Engine } from '../engine/engine.js';
import type { ProgressBook } from '../engine/progress-book.js';
import type { TelemetrySource } from '../telemetry/telemetry.js';
import { jobCard } from './job-card-json.js';

export type QueueEstimates = (running: readonly Job[], pending: readonly Job[]) => Map<string, JobEstimate>;

export interface AdminRouteDeps {
  engine: Engine;
  progress: ProgressBook;
  telemetry?: TelemetrySource;
  /** duration and start-time estimates of running and pending jobs (pending in queue order), by job id */
  estimates?: QueueEstimates;
}

export function registerAdminRoutes(app: FastifyInstance, deps: AdminRouteDeps): void {
  const { engine, progress } = deps;

  app.get<{ Querystring: { limit?: string } }>('/api/admin/queue', async (req) => {
    const n = Number.parseInt(req.query.limit ?? '', 10);
    const limit = Number.isFinite(n) ? Math.min(10_000, Math.max(1, n)) : 500;
    const [running, pending, counts] = await Promise.all([
      engine.store.listInProgress(),
      engine.store.listPending(limit),
      engine.store.counts(),
    ]);
    running.sort((a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0));
    const estimates = deps.estimates?.(running, pending);
    const jobs = [...running, ...pending].map((j) =>
      jobCard(j, {
        progress: progress.get(j.id),
        state: progress.state(j.id),
        estimate: estimates?.get(j.id),
        waiting: j.status === 'pending' ? engine.waitingOf(j.id) : null,
      }),
    );
    return { paused: engine.isPaused, jobs, pending_total: counts.pending, counts };
  });

  app.get('/api/admin/telemetry', async (_req, reply) => {
    if (!deps.telemetry)
      return reply.code(404).send({ error: { code: 'NOT_FOUND', message: 'No telemetry.' } });
    return deps.telemetry.read();
  });
}
