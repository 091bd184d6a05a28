/**
 * What a dashboard shows of a running job, read from the progress state at a
 * given time. The clock-derived fields (elapsed, the ETA's countdown) move
 * with `now` without bumping the revision: clients extrapolate them between
 * pushes.
 */
import {
  doneCount,
  effectiveTotal,
  type NodeOutput,
  type ProgressError,
  type ProgressState,
  type StepSample,
} from './progress.js';

export type ProgressStatus =
  | 'queued'
  | 'starting'
  /** running, but the current node reports no steps (yet): model loading, decoding, saving */
  | 'indeterminate'
  | 'running'
  | 'completed'
  | 'failed'
  | 'cancelled';

export interface CurrentNodeView {
  /** execution id */
  id: string;
  /** graph node shown for it (differs from `id` for nodes created by expansion) */
  displayId: string;
  classType: string | null;
  title: string;
  /** "Step 14/20"; null until the node reports a step */
  step: { value: number; max: number } | null;
}

export interface ProgressSnapshot {
  promptId: string;
  /** changes exactly when something below other than the clock-derived fields changed */
  revision: number;
  status: ProgressStatus;
  /** 0–100 over the effective node count; never decreases; 100 on success */
  percent: number;
  nodes: { done: number; total: number; cached: number };
  currentNode: CurrentNodeView | null;
  /** steps per second over the last STEP_WINDOW step samples; null once the run ended */
  itPerSec: number | null;
  /** remaining steps of the current node at the rolling step rate */
  nodeEtaMs: number | null;
  /** nodeEtaMs plus a rough estimate for the nodes still to run (see `remainingNodesMs`) */
  etaMs: number | null;
  elapsedMs: number;
  outputs: readonly NodeOutput[];
  error: ProgressError | null;
}

export function snapshot(state: ProgressState, now: number): ProgressSnapshot {
  const cur = state.current;
  const info = cur ? state.graph.nodes[cur.displayId] : undefined;
  const hasSteps = cur !== null && cur.max > 0;
  const status: ProgressStatus =
    state.phase === 'running' ? (hasSteps ? 'running' : 'indeterminate') : state.phase;
  const stepMs = cur ? averageStepMs(cur.samples) : null;
  const running = state.phase === 'running';
  const nodeEtaMs = running && cur && hasSteps && stepMs !== null ? countdown(state, stepMs, now) : null;
  const rest = running ? remainingNodesMs(state, now) : null;
  const etaMs = !running ? null : nodeEtaMs === null ? (hasSteps ? null : rest) : nodeEtaMs + (rest ?? 0);
  return {
    promptId: state.promptId,
    revision: state.revision,
    status,
    percent: state.percent,
    nodes: { done: doneCount(state), total: effectiveTotal(state), cached: state.cached.size },
    currentNode: cur && {
      id: cur.id,
      displayId: cur.displayId,
      classType: info?.classType ?? null,
      title: info?.title ?? cur.displayId,
      step: hasSteps ? { value: cur.value, max: cur.max } : null,
    },
    itPerSec: running && stepMs !== null && stepMs > 0 ? 1000 / stepMs : null,
    nodeEtaMs,
    etaMs,
    elapsedMs: Math.max(0, (state.endedAt ?? now) - state.startedAt),
    outputs: state.outputs,
    error: state.error,
  };
}

/** Mean ms per step over the window; a sample may span several throttled steps. */
export function averageStepMs(samples: readonly StepSample[]): number | null {
  let ms = 0;
  let steps = 0;
  for (const s of samples) {
    ms += s.ms;
    steps += s.steps;
  }
  return steps > 0 ? ms / steps : null;
}

/** Remaining steps at the rolling rate, less the time since the last step: it counts down between pushes. */
function countdown(state: ProgressState, stepMs: number, now: number): number {
  const cur = state.current!;
  const left = Math.max(0, cur.max - cur.value) * stepMs;
  return Math.max(0, left - Math.max(0, now - (cur.lastStepAt ?? now)));
}

/**
 * Rough time for the counted nodes still to run after the current one (the
 * current one too when it reports no steps): their number times the mean
 * duration of finished nodes that reported no steps. The nodes after a
 * sampler are mostly of that kind (decode, save); a second sampler ahead is
 * not foreseeable from the graph, which is what the per-workflow history
 * estimate (duration-estimate.ts) is for. Null while no such node has
 * finished and some remain; 0 when none remain.
 */
export function remainingNodesMs(state: ProgressState, now: number): number | null {
  const cur = state.current;
  const curOpen =
    cur?.countedAs != null && !state.done.has(cur.countedAs) && !state.cached.has(cur.countedAs);
  const after = Math.max(0, effectiveTotal(state) - doneCount(state) - (curOpen ? 1 : 0));
  const plainCurrent = curOpen && cur.max === 0;
  if (after === 0 && !plainCurrent) return 0;
  if (state.plainNodes.count === 0) return null;
  const mean = state.plainNodes.ms / state.plainNodes.count;
  const currentLeft = plainCurrent ? Math.max(0, mean - (now - cur.startedAt)) : 0;
  return after * mean + currentLeft;
}
