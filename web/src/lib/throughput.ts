/** Finished jobs counted per time bucket over a window ending now. Pure. */
export interface Bucket {
  start: number;
  completed: number;
  failed: number;
}

export function bucketize(ends: readonly { at: number; failed: boolean }[], now: number, windowMs: number, n: number): Bucket[] {
  const size = windowMs / n;
  const start = now - windowMs;
  const out: Bucket[] = Array.from({ length: n }, (_, i) => ({ start: start + i * size, completed: 0, failed: 0 }));
  for (const e of ends) {
    const i = Math.floor((e.at - start) / size);
    const b = out[Math.min(n - 1, i)];
    if (i < 0 || !b) continue;
    if (e.failed) b.failed++;
    else b.completed++;
  }
  return out;
}
