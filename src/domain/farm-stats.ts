/**
 * What the Stats screen shows over a window (1 h, 24 h, 7 d): throughput and
 * queue wait per time bucket, and per worker the jobs done and failed, mean
 * and p95 run time and busy share. Pure: the finished jobs of the window and
 * `now` are passed in.
 */

export interface FinishedRun {
  status: 'completed' | 'failed' | 'cancelled';
  worker: string | null;
  createdAt: number;
  startedAt: number | null;
  endedAt: number;
}

export interface StatsBucket {
  start: number;
  completed: number;
  failed: number;
  /** mean time from queued to started of the jobs that ended in this bucket, ms */
  meanWaitMs: number | null;
}

export interface WorkerStats {
  worker: string;
  completed: number;
  failed: number;
  meanMs: number | null;
  p95Ms: number | null;
  /** share of the window it spent running jobs, 0–1 */
  busyShare: number;
}

export interface FarmStats {
  windowMs: number;
  since: number;
  buckets: StatsBucket[];
  workers: WorkerStats[];
  completed: number;
  failed: number;
  /** completed jobs per hour over the window */
  perHour: number;
  wait: { meanMs: number | null; p95Ms: number | null };
}

/** The value below which `p` of the sorted values lie (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil(p * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

function mean(values: readonly number[]): number | null {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
}

export function farmStats(
  runs: readonly FinishedRun[],
  now: number,
  windowMs: number,
  nBuckets: number,
): FarmStats {
  const since = now - windowMs;
  const size = windowMs / nBuckets;
  const buckets: (StatsBucket & { waits: number[] })[] = Array.from({ length: nBuckets }, (_, i) => ({
    start: since + i * size,
    completed: 0,
    failed: 0,
    meanWaitMs: null,
    waits: [],
  }));
  const perWorker = new Map<
    string,
    { completed: number; failed: number; durations: number[]; busy: number }
  >();
  const waits: number[] = [];
  let completed = 0;
  let failed = 0;
  for (const r of runs) {
    if (r.endedAt < since || r.endedAt > now) continue;
    const b = buckets[Math.min(nBuckets - 1, Math.floor((r.endedAt - since) / size))]!;
    if (r.status === 'completed') {
      b.completed++;
      completed++;
    } else if (r.status === 'failed') {
      b.failed++;
      failed++;
    }
    if (r.startedAt !== null) {
      const wait = Math.max(0, r.startedAt - r.createdAt);
      b.waits.push(wait);
      waits.push(wait);
    }
    if (!r.worker || r.startedAt === null) continue;
    const w = perWorker.get(r.worker) ?? { completed: 0, failed: 0, durations: [], busy: 0 };
    if (r.status === 'completed') {
      w.completed++;
      w.durations.push(r.endedAt - r.startedAt);
    } else if (r.status === 'failed') w.failed++;
    w.busy += r.endedAt - Math.max(r.startedAt, since);
    perWorker.set(r.worker, w);
  }
  const sortedWaits = [...waits].sort((a, b) => a - b);
  return {
    windowMs,
    since,
    buckets: buckets.map(({ waits: w, ...rest }) => ({ ...rest, meanWaitMs: mean(w) })),
    workers: [...perWorker.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([worker, w]) => {
        const d = [...w.durations].sort((a, b) => a - b);
        return {
          worker,
          completed: w.completed,
          failed: w.failed,
          meanMs: mean(d),
          p95Ms: percentile(d, 0.95),
          busyShare: Math.min(1, w.busy / windowMs),
        };
      }),
    completed,
    failed,
    perHour: completed / (windowMs / 3_600_000),
    wait: { meanMs: mean(sortedWaits), p95Ms: percentile(sortedWaits, 0.95) },
  };
}
