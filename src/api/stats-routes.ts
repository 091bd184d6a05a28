/**
 * GET /api/pqueue/stats?window=1h|24h|7d: throughput, queue wait and per-worker
 * figures over the window (domain/farm-stats.ts), read from the finished jobs
 * newest first. A window holding more than MAX_ROWS finished jobs is cut
 * there (`truncated`).
 */
import type { FastifyInstance } from 'fastify';
import { QueueError } from '../domain/errors.js';
import { type FinishedRun, farmStats } from '../domain/farm-stats.js';
import type { Engine } from '../engine/engine.js';

const WINDOWS: Record<string, { ms: number; buckets: number }> = {
  '1h': { ms: 3_600_000, buckets: 30 },
  '24h': { ms: 24 * 3_600_000, buckets: 48 },
  '7d': { ms: 7 * 24 * 3_600_000, buckets: 56 },
};
const PAGE = 5_000;
const MAX_ROWS = 200_000;

export function registerStatsRoutes(
  app: FastifyInstance,
  engine: Engine,
  now: () => number = Date.now,
): void {
  app.get<{ Querystring: { window?: string } }>('/api/pqueue/stats', async (req) => {
    const name = req.query.window ?? '1h';
    const w = WINDOWS[name];
    if (!w)
      throw new QueueError('INVALID_QUERY', `window must be one of ${Object.keys(WINDOWS).join(', ')}.`);
    const at = now();
    const since = at - w.ms;
    const runs: FinishedRun[] = [];
    let after: { value: number; id: string } | null = null;
    let truncated = false;
    for (;;) {
      const page = await engine.store.listJobs({
        statuses: ['completed', 'failed', 'cancelled'],
        sort: 'ended_at',
        order: 'desc',
        limit: PAGE,
        after,
        countTotal: false,
      });
      let older = false;
      for (const j of page.jobs) {
        if (j.endedAt === null || j.endedAt < since) {
          older = true;
          break;
        }
        runs.push({
          status: j.status as FinishedRun['status'],
          worker: j.worker,
          createdAt: j.createdAt,
          startedAt: j.startedAt,
          endedAt: j.endedAt,
        });
      }
      if (older || !page.hasMore || !page.nextCursor) break;
      if (runs.length >= MAX_ROWS) {
        truncated = true;
        break;
      }
      after = page.nextCursor;
    }
    const s = farmStats(runs, at, w.ms, w.buckets);
    return {
      window: name,
      window_ms: s.windowMs,
      since: s.since,
      truncated,
      completed: s.completed,
      failed: s.failed,
      per_hour: s.perHour,
      wait: { mean_ms: s.wait.meanMs, p95_ms: s.wait.p95Ms },
      buckets: s.buckets.map((b) => ({
        start: b.start,
        completed: b.completed,
        failed: b.failed,
        mean_wait_ms: b.meanWaitMs,
      })),
      workers: s.workers.map((x) => ({
        worker: x.worker,
        completed: x.completed,
        failed: x.failed,
        mean_ms: x.meanMs,
        p95_ms: x.p95Ms,
        busy_share: x.busyShare,
      })),
    };
  });
}
