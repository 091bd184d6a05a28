/**
 * What each node of a graph weighs in the progress percentage. Pure.
 *
 * With durations learned from earlier runs of the same workflow on the same
 * worker, a node weighs its duration, so that the bar tracks time. Without
 * them, a node with a literal `steps` input (a sampler) weighs its step count
 * and any other node one step: the bar then moves with the sampler's steps,
 * which is where the time of a typical run goes.
 */
import type { PromptGraph } from './job.js';

/** A learned node shorter than this still weighs something: it is never free. */
const MIN_MS = 1;

export function nodeWeights(
  prompt: PromptGraph,
  counted: ReadonlySet<string>,
  learnedMs: Readonly<Record<string, number>> | null,
): Record<string, number> {
  const out: Record<string, number> = {};
  const known = learnedMs ? [...counted].filter((id) => Number.isFinite(learnedMs[id])) : [];
  if (learnedMs && known.length > 0) {
    // A node not timed before (it was cached, or ended unseen) weighs as little as the lightest timed one.
    const floor = Math.max(MIN_MS, Math.min(...known.map((id) => learnedMs[id]!)));
    for (const id of counted) out[id] = Math.max(MIN_MS, learnedMs[id] ?? floor);
    return out;
  }
  for (const id of counted) {
    const steps = prompt[id]?.inputs.steps;
    out[id] = typeof steps === 'number' && Number.isFinite(steps) && steps >= 1 ? steps : 1;
  }
  return out;
}

/**
 * Merges a finished run's node durations into what was learned before
 * (a moving mean, newer runs counting more); nodes not timed this run keep
 * their old figure.
 */
export function learnNodeMs(
  before: Readonly<Record<string, number>> | undefined,
  run: Readonly<Record<string, number>>,
): Record<string, number> {
  const out: Record<string, number> = { ...before };
  for (const [id, ms] of Object.entries(run)) {
    if (!(ms >= 0)) continue;
    const old = out[id];
    out[id] = old === undefined ? ms : old * 0.5 + ms * 0.5;
  }
  return out;
}
