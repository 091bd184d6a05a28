/**
 * A batch's throughput over time: which stretch of time and which bucket size
 * to count finished items in, and the buckets filled from the store's counts
 * (empty buckets included, so a chart shows the gaps). Pure: the caller passes
 * the time.
 */

export type ThroughputSpan = 'life' | 'hour';
export const THROUGHPUT_SPANS: readonly ThroughputSpan[] = ['life', 'hour'];

/** Bucket sizes, smallest first: the smallest that covers the span in at most MAX_BUCKETS is taken. */
const BUCKET_LADDER_MS = [
  10_000,
  30_000,
  60_000,
  2 * 60_000,
  5 * 60_000,
  10 * 60_000,
  15 * 60_000,
  30 * 60_000,
  3_600_000,
  2 * 3_600_000,
  6 * 3_600_000,
  12 * 3_600_000,
  86_400_000,
];
/** At most this many bars; a batch that ran for weeks gets day buckets and only its last MAX_BUCKETS days. */
export const MAX_BUCKETS = 120;
const HOUR_MS = 3_600_000;

export interface ThroughputWindow {
  /** start of the first bucket, ms since epoch (a multiple of bucketMs) */
  from: number;
  bucketMs: number;
  /** how many buckets, the last one holding `now` */
  buckets: number;
}

export interface FinishedBucket {
  /** start of the bucket, ms since epoch */
  start: number;
  completed: number;
  failed: number;
}

/**
 * The window for a batch created at `createdAt`: its whole life, or the last hour in one-minute
 * buckets. Buckets are aligned to multiples of their size, so two reads agree on their edges.
 */
export function throughputWindow(span: ThroughputSpan, createdAt: number, now: number): ThroughputWindow {
  if (span === 'hour') return aligned(now - HOUR_MS + 60_000, now, 60_000);
  const life = Math.max(0, now - createdAt);
  const bucketMs =
    BUCKET_LADDER_MS.find((b) => Math.floor(now / b) - Math.floor(createdAt / b) + 1 <= MAX_BUCKETS) ??
    BUCKET_LADDER_MS[BUCKET_LADDER_MS.length - 1]!;
  return aligned(now - Math.min(life, (MAX_BUCKETS - 1) * bucketMs), now, bucketMs);
}

function aligned(start: number, now: number, bucketMs: number): ThroughputWindow {
  const from = Math.floor(start / bucketMs) * bucketMs;
  return { from, bucketMs, buckets: Math.floor(now / bucketMs) - from / bucketMs + 1 };
}

/** Every bucket of the window, with the store's counts (keyed by bucket start) where it has some. */
export function fillBuckets(w: ThroughputWindow, counted: readonly FinishedBucket[]): FinishedBucket[] {
  const byStart = new Map(counted.map((c) => [c.start, c]));
  return Array.from({ length: w.buckets }, (_, i) => {
    const start = w.from + i * w.bucketMs;
    const c = byStart.get(start);
    return { start, completed: c?.completed ?? 0, failed: c?.failed ?? 0 };
  });
}
