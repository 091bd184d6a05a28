/**
 * How long a job will take and when pending jobs will start, from the
 * durations of earlier runs of the same workflow. Pure: durations, the
 * running job's remaining time and `now` are passed in.
 */
import type { PromptGraph } from './job.js';

/**
 * Inputs that change from run to run without changing the work: seeds, and
 * the free text of prompts and filenames. Any string with whitespace or longer
 * than FREE_TEXT_MIN is treated as free text too (prompts come under many
 * input names), while short tokens such as model, sampler and scheduler names
 * are kept: they change the duration.
 */
const VOLATILE_INPUT = /seed|^(text|text_g|text_l|prompt|positive|negative|string|filename_prefix)$/i;
const FREE_TEXT_MIN = 80;

/**
 * A key for "the same workflow": a hash of every node's id and class_type,
 * its links, and its inputs other than the volatile ones above. Runs that
 * differ only in seed or prompt text share a key; a change of steps, size,
 * batch, model or wiring gives a new one. Stable across key order.
 */
export function workflowKey(prompt: PromptGraph): string {
  const ids = Object.keys(prompt).sort();
  const parts = ids.map((id) => {
    const node = prompt[id]!;
    const inputs = Object.keys(node.inputs)
      .sort()
      .filter((name) => !VOLATILE_INPUT.test(name))
      .map((name) => [name, structural(node.inputs[name])]);
    return [id, node.class_type, inputs];
  });
  return `wf-${hash53(JSON.stringify(parts))}`;
}

function structural(value: unknown): unknown {
  if (typeof value === 'string') return /\s/.test(value) || value.length > FREE_TEXT_MIN ? '<text>' : value;
  // Numbers, booleans, links ([node id, output slot]) and other widget values are kept as they are.
  return value ?? null;
}

/** cyrb53: a fast 53-bit string hash; collisions are irrelevant at the scale of one worker's history. */
function hash53(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16).padStart(14, '0');
}

/** Runs looked at by default: enough to outvote one slow first run (model loading), few enough to follow drift. */
export const RECENT_RUNS = 5;

/**
 * The expected duration in ms: the median of the most recent `recent`
 * durations (given oldest first), so one cold start or stall does not skew
 * it. Null without usable history.
 */
export function estimateDuration(pastMs: readonly number[], recent = RECENT_RUNS): number | null {
  const usable = pastMs.filter((ms) => Number.isFinite(ms) && ms >= 0).slice(-Math.max(1, recent));
  if (usable.length === 0) return null;
  const sorted = [...usable].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface PendingEstimate {
  id: string;
  /** expected duration (estimateDuration), null when unknown */
  expectedMs: number | null;
}

export interface StartEstimate {
  id: string;
  /** ms from `now` until the job is expected to start; null once an earlier job's duration is unknown */
  startsInMs: number | null;
  startsAt: number | null;
}

/**
 * Expected start of each pending job, in queue order. Each job goes to the
 * worker that frees up first (`workersFreeInMs`: per worker, ms until it is
 * idle — the running job's remaining ETA, 0 when idle; one entry for a single
 * worker). A job of unknown duration takes `fallbackMs` when given; without
 * it, the starts after it are unknown.
 */
export function estimateStartTimes(
  pending: readonly PendingEstimate[],
  workersFreeInMs: readonly (number | null)[],
  now: number,
  fallbackMs: number | null = null,
): StartEstimate[] {
  const lanes: (number | null)[] = workersFreeInMs.length > 0 ? [...workersFreeInMs] : [null];
  return pending.map(({ id, expectedMs }) => {
    const lane = earliest(lanes);
    const startsInMs = lanes[lane] ?? null;
    const duration = expectedMs ?? fallbackMs;
    lanes[lane] = startsInMs === null || duration === null ? null : startsInMs + Math.max(0, duration);
    return { id, startsInMs, startsAt: startsInMs === null ? null : now + startsInMs };
  });
}

/** Index of the lane free soonest; unknown lanes (null) come last. */
function earliest(lanes: readonly (number | null)[]): number {
  let best = 0;
  for (let i = 1; i < lanes.length; i++) {
    const a = lanes[i] ?? Number.POSITIVE_INFINITY;
    const b = lanes[best] ?? Number.POSITIVE_INFINITY;
    if (a < b) best = i;
  }
  return best;
}

/** "starts in <1 min", "starts in ~3 min", "starts in ~1 h 20 min". */
export function formatStartsIn(ms: number): string {
  if (!Number.isFinite(ms)) return 'start time unknown';
  if (ms < 60_000) return 'starts in <1 min';
  const minutes = Math.round(ms / 60_000);
  if (minutes < 60) return `starts in ~${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return m === 0 ? `starts in ~${h} h` : `starts in ~${h} h ${m} min`;
}
