/**
 * The live monitor's polling routes: GET /api/admin/queue, the job cards, and
 * GET /api/admin/telemetry, the gauges. The event websocket pushes the same
 * data; these are for polling clients and its fallback.
 *
 * A card's status says what the job is really doing: `running` (its worker
 * executes it), `waiting` (handed to a worker, waiting in that ComfyUI's own
 * queue), `queued` (pending here). The pending part is a window of the queue
 * (`offset`, `limit`), optionally of the jobs matching a search (`q`), so a
 * client can page through 100,000 pending jobs.
 */
import type { FastifyInstance } from 'fastify';
import type { Job } from '../domain/job.js';
import { compareRunOrder } from '../domain/queue-moves.js';
import type { JobEstimate } from '../engine/duration-index.js';
import type { Engine } from '../engine/engine.js';
import type { ProgressBook } from '../engine/progress-book.js';
import { WorkerPresence } from '../engine/worker-presence.js';
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

const MAX_LIMIT = 10_000;
/** Pending jobs deeper than this get no start-time estimate in a window of the queue. */
const ESTIMATE_DEPTH = 1_000;

function int(raw: string | undefined, dflt: number, min: number, max: number): number {
  const n = Number.parseInt(raw ?? '', 10);
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : dflt;
}

/** A window of the pending jobs in run order, of those matching `q` when given, with how many match. */
async function pendingWindow(
  engine: Engine,
  offset: number,
  limit: number,
  q: string,
): Promise<{ jobs: Job[]; matched: number | null }> {
  if (!q) return { jobs: await engine.store.listPending(limit, offset), matched: null };
  const page = await engine.store.listJobs({
    statuses: ['pending'],
    text: q,
    limit: null,
    countTotal: false,
  });
  const ordered = page.jobs
    .map((j) => ({
      id: j.id,
      priority: j.priority,
      fair: j.fair,
      position: j.position,
      createdAt: j.createdAt,
    }))
    .sort(compareRunOrder);
  const jobs: Job[] = [];
  for (const p of ordered.slice(offset, offset + limit)) {
    const job = await engine.store.get(p.id);
    if (job?.status === 'pending') jobs.push(job);
  }
  return { jobs, matched: ordered.length };
}

export function registerAdminRoutes(app: FastifyInstance, deps: AdminRouteDeps): void {
  const { engine, progress } = deps;
  const presence = new WorkerPresence(engine, Date.now);

  app.get<{ Querystring: { limit?: string; offset?: string; q?: string } }>(
    '/api/admin/queue',
    async (req) => {
      const limit = int(req.query.limit, 500, 1, MAX_LIMIT);
      const offset = int(req.query.offset, 0, 0, Number.MAX_SAFE_INTEGER);
      const q = (req.query.q ?? '').trim().slice(0, 500);
      const [running, window, counts] = await Promise.all([
        engine.store.listInProgress(),
        pendingWindow(engine, offset, limit, q),
        engine.store.counts(),
      ]);
      running.sort((a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0));
      // Start times count from the head of the queue, so a window further down needs the jobs before it:
      // estimated for the first ESTIMATE_DEPTH places only (deeper, "starts in" would mean little anyway).
      const head =
        offset === 0 && !q
          ? window.jobs
          : offset + limit <= ESTIMATE_DEPTH
            ? await engine.store.listPending(offset + limit)
            : [];
      const estimates = deps.estimates?.(running, head);
      const waiting = engine.waitingJobIds();
      const cards = [...running, ...window.jobs].map((j) => {
        const card = jobCard(j, {
          progress: progress.get(j.id),
          state: progress.state(j.id),
          estimate: estimates?.get(j.id),
          waiting: j.status === 'pending' ? engine.waitingOf(j.id) : null,
        });
        if (j.status !== 'in_progress') return card;
        const phase = progress.state(j.id)?.phase;
        const notStarted = waiting.has(j.id) || phase === 'queued';
        const worker = j.worker ? presence.of(j.worker) : null;
        return {
          ...card,
          status: notStarted ? 'waiting' : 'running',
          worker_state: worker?.state ?? null,
          worker_state_since: worker?.since ?? null,
          last_message_at: progress.lastMessageAt(j.id),
        };
      });
      const runningNow = cards.filter((c) => c.status === 'running').length;
      return {
        paused: engine.isPaused,
        jobs: cards,
        pending_total: counts.pending,
        running_total: runningNow,
        waiting_total: running.length - runningNow,
        offset,
        q: q || null,
        matched: window.matched,
        workers: presence.list(),
        counts,
      };
    },
  );

  app.get('/api/admin/telemetry', async (_req, reply) => {
    if (!deps.telemetry)
      return reply.code(404).send({ error: { code: 'NOT_FOUND', message: 'No telemetry.' } });
    return deps.telemetry.read();
  });
}
