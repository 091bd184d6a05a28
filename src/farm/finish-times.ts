/**
 * Speed-aware dispatch. Workers are not equally fast: handing the next job to
 * whichever worker has room lets a slow worker start a job that a fast one
 * would have finished sooner, and the farm's makespan is then the slow
 * worker's. The rule here is earliest finish time (list scheduling): the
 * first pending jobs are laid out, in run order, each on the able worker
 * where it would end first, given what every worker holds. A worker with room
 * takes work only when that layout gives it some; a job waiting in a
 * worker's own queue is taken back for an idle worker only when it would end
 * sooner there. Without run times for a job on every able worker the rule
 * says nothing and dispatch is as before (anyone with room takes the head).
 * Pure: run times are recorded by the engine, and the clock is passed in.
 */

/** Runs remembered per worker and workflow: the estimate is their median. */
const KEEP = 5;
/**
 * (worker, workflow) pairs remembered, the most recently run: each setting of
 * a sweep is a workflow of its own, and a farm runs hundreds of thousands.
 */
export const PAIRS_KEPT = 4_000;

export class RunTimes {
  private readonly runs = new Map<string, number[]>();

  /** A completed run of workflow `key` on `worker` took `ms` (from ComfyUI's start to the outcome). */
  record(worker: string, key: string, ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    const k = `${worker}\u0000${key}`;
    const list = this.runs.get(k) ?? [];
    list.push(ms);
    if (list.length > KEEP) list.shift();
    this.runs.delete(k); // back in at the end: the most recently run
    this.runs.set(k, list);
    if (this.runs.size > PAIRS_KEPT) this.runs.delete(this.runs.keys().next().value!);
  }

  /** The expected run time of workflow `key` on `worker`, or null before its first run there. */
  estimate(worker: string, key: string): number | null {
    const list = this.runs.get(`${worker}\u0000${key}`);
    if (!list?.length) return null;
    const sorted = [...list].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)]!;
  }

  forget(worker: string): void {
    const prefix = `${worker}\u0000`;
    for (const k of [...this.runs.keys()]) if (k.startsWith(prefix)) this.runs.delete(k);
  }
}

export interface PlannedJob {
  /** the run-time key of its workflow */
  key: string;
  /** the workers that could run it (whatever their load) */
  able: readonly string[];
}

export type Estimate = (worker: string, key: string) => number | null;

/**
 * The workers that get at least one of `jobs` when each, in order, goes to
 * the able worker where it would end first (`busyMs`: how long each worker
 * needs for what it holds). Null when some run time is unknown: no opinion.
 */
export function earliestFinishTakers(
  jobs: readonly PlannedJob[],
  busyMs: ReadonlyMap<string, number | null>,
  estimate: Estimate,
): Set<string> | null {
  const ready = new Map<string, number>();
  for (const [w, ms] of busyMs) {
    if (ms === null) return null;
    ready.set(w, ms);
  }
  const takers = new Set<string>();
  for (const job of jobs) {
    let best: string | null = null;
    let bestEnd = Number.POSITIVE_INFINITY;
    for (const w of job.able) {
      const at = ready.get(w);
      if (at === undefined) continue; // not online: it takes nothing now
      const d = estimate(w, job.key);
      if (d === null) return null;
      const end = at + d;
      if (end < bestEnd) {
        best = w;
        bestEnd = end;
      }
    }
    if (best === null) continue;
    ready.set(best, bestEnd);
    takers.add(best);
  }
  return takers;
}

/**
 * How long a worker needs for the jobs it holds: each one's run time, less
 * what the running one has done already. Null when a run time is unknown.
 */
export function busyFor(
  worker: string,
  held: readonly { key: string | undefined; startedAt: number | undefined }[],
  estimate: Estimate,
  now: number,
): number | null {
  let total = 0;
  for (const h of held) {
    if (h.key === undefined) return null;
    const d = estimate(worker, h.key);
    if (d === null) return null;
    total += Math.max(0, d - (h.startedAt === undefined ? 0 : now - h.startedAt));
  }
  return total;
}
