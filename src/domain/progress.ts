/**
 * The live progress of one running job, as a pure reducer over ComfyUI's
 * websocket messages (protocol §3.4–3.5, seed 001): `feed` folds a message
 * into the state, `snapshot` (progress-snapshot.ts) reads what a dashboard
 * shows. Time is passed in; nothing here reads the clock.
 *
 * Percent is taken over the *effective* node count: the nodes that will run,
 * less those ComfyUI serves from cache and "instant" types. A node counts as
 * done when it finishes (`progress_state` finished, `executed`) or the next
 * node starts; the running node adds its step fraction. Streams with
 * `progress_state` only, without it (ComfyUI before v0.3.44), or with both
 * are all read.
 */
import type { PromptGraph } from './job.js';
import { nodeWeights } from './node-weights.js';
import { analyzeGraph, type ProgressGraph } from './progress-graph.js';
import { isTracked, type NodeProgressEntry, type ProgressInput, promptIdOf } from './progress-messages.js';
import { type NodeOutput, withNodeOutput } from './progress-outputs.js';

/** The phase of the run; the snapshot splits `running` into `indeterminate` and `running`. */
export type ProgressPhase = 'queued' | 'starting' | 'running' | 'completed' | 'failed' | 'cancelled';

export type { ImageRef, NodeOutput } from './progress-outputs.js';

const TERMINAL: ReadonlySet<ProgressPhase> = new Set(['completed', 'failed', 'cancelled']);

/** Steps kept for the rolling it/s average (seed 001: "last 10 steps"). */
export const STEP_WINDOW = 10;

export interface ProgressError {
  nodeId: string | null;
  nodeType: string | null;
  message: string;
  exceptionType: string | null;
}

/** A throttled `progress` may cover several steps: one sample = elapsed ms over steps advanced. */
export interface StepSample {
  ms: number;
  steps: number;
}

export interface RunningNode {
  /** execution id as ComfyUI sends it (may be ephemeral, e.g. "12.0.0.3") */
  id: string;
  /** the graph node to show for it */
  displayId: string;
  /** the counted graph node whose unit this run fills, null when it fills none */
  countedAs: string | null;
  startedAt: number;
  /** step progress; `max` is 0 until the node reports a step */
  value: number;
  max: number;
  lastStepAt: number | null;
  samples: readonly StepSample[];
}

export interface ProgressState {
  readonly promptId: string;
  readonly graph: ProgressGraph;
  readonly startedAt: number;
  readonly phase: ProgressPhase;
  readonly endedAt: number | null;
  readonly cached: ReadonlySet<string>;
  /** counted nodes that finished */
  readonly done: ReadonlySet<string>;
  readonly current: RunningNode | null;
  /** 0–100, never lower than before */
  readonly percent: number;
  readonly outputs: readonly NodeOutput[];
  readonly error: ProgressError | null;
  /** total duration and count of finished nodes that reported no steps, for the rough ETA of what is left */
  readonly plainNodes: { readonly ms: number; readonly count: number };
  /** bumped by `feed` whenever something a snapshot shows changed (clock-derived fields aside) */
  readonly revision: number;
  /** what each counted node weighs in the percentage (node-weights.ts) */
  readonly weights: Readonly<Record<string, number>>;
  /** how long each counted node that finished while it was the current one ran, ms: learned for later runs */
  readonly nodeMs: Readonly<Record<string, number>>;
}

export interface ProgressOptions {
  promptId: string;
  prompt: PromptGraph;
  /** UI workflow, for node titles the API graph lacks */
  workflow?: unknown;
  /** when the job was handed to the worker, ms */
  startedAt: number;
  /** replaces DEFAULT_INSTANT_NODE_TYPES */
  instantNodeTypes?: readonly string[];
  /** partial execution targets: only they and their ancestors count */
  targets?: readonly string[] | null;
  /** learned durations (ms) of the nodes in earlier runs of this workflow on this worker */
  learnedMs?: Readonly<Record<string, number>> | null;
}

export function createProgress(options: ProgressOptions): ProgressState {
  const graph = analyzeGraph(options.prompt, options);
  return {
    promptId: options.promptId,
    graph,
    startedAt: options.startedAt,
    phase: 'queued',
    endedAt: null,
    cached: new Set(),
    done: new Set(),
    current: null,
    percent: 0,
    outputs: [],
    error: null,
    plainNodes: { ms: 0, count: 0 },
    revision: 0,
    weights: nodeWeights(options.prompt, graph.counted, options.learnedMs ?? null),
    nodeMs: {},
  };
}

export function isTerminal(state: ProgressState): boolean {
  return TERMINAL.has(state.phase);
}

/** Folds one message into the state. Returns `state` itself when the message changes nothing. */
export function feed(state: ProgressState, message: ProgressInput, now: number): ProgressState {
  if (!isTracked(message) || isTerminal(state)) return state;
  const pid = promptIdOf(message);
  if (pid !== null && pid !== state.promptId) return state;
  let next = state;
  switch (message.type) {
    case 'execution_start':
      next = state.phase === 'queued' ? { ...state, phase: started(state.phase) } : state;
      break;
    case 'execution_cached':
      next = {
        ...state,
        cached: new Set([...state.cached, ...message.data.nodes]),
        phase: started(state.phase),
      };
      break;
    case 'executing': {
      const { node, display_node } = message.data;
      next =
        node === null ? finish(state, 'completed', now) : startNode(state, node, display_node ?? node, now);
      break;
    }
    case 'progress': {
      const { value, max, node } = message.data;
      const id = node ?? state.current?.id;
      if (id === undefined) break;
      // Progress for a node that never started and is not in the graph cannot be placed: ignored.
      if (id !== state.current?.id && !state.graph.nodes[id]) break;
      next = step(startNode(state, id, id, now), value, max, now);
      break;
    }
    case 'progress_state':
      next = fromProgressState(state, message.data.nodes, now);
      break;
    case 'executed': {
      const { node, display_node, output, merge } = message.data;
      const done = markDone(state, node, now);
      const id = display_node ?? node;
      const outputs = withNodeOutput(done.outputs, id, state.graph.nodes[id], output, merge === true);
      next = outputs === done.outputs ? done : { ...done, outputs };
      break;
    }
    case 'execution_success':
      next = finish(state, 'completed', now);
      break;
    case 'execution_error': {
      const d = message.data;
      // An "execution blocker" is reported as an error, but the prompt carries on (§3.4).
      if (d.exception_type === 'ExecutionBlocked') break;
      const error: ProgressError = {
        nodeId: d.node_id ?? null,
        nodeType: d.node_type ?? null,
        message: (d.exception_message ?? '').trim(),
        exceptionType: d.exception_type ?? null,
      };
      next = { ...finish(state, 'failed', now), error };
      break;
    }
    case 'execution_interrupted':
      next = finish(state, 'cancelled', now);
      break;
  }
  if (next === state) return state;
  next = withPercent(next);
  return visiblyChanged(state, next) ? { ...next, revision: state.revision + 1 } : next;
}

/** A run that shows any sign of life has left the worker's queue. */
function started(phase: ProgressPhase): ProgressPhase {
  return phase === 'queued' ? 'starting' : phase;
}

/** The graph node a run fills: itself, else the node it was expanded from. */
function countedAs(state: ProgressState, id: string, displayId: string): string | null {
  if (state.graph.counted.has(id)) return id;
  if (!state.graph.nodes[id] && state.graph.counted.has(displayId)) return displayId;
  return null;
}

function startNode(state: ProgressState, id: string, displayId: string, now: number): ProgressState {
  if (state.current?.id === id) return state;
  const key = countedAs(state, id, displayId);
  const prev = state.current;
  // The next node starting means the previous one finished (streams without progress_state).
  const base = prev?.countedAs && prev.countedAs !== key ? markDone(state, prev.countedAs, now) : state;
  const current: RunningNode = {
    id,
    displayId: state.graph.nodes[id] ? id : displayId,
    countedAs: key,
    startedAt: now,
    value: 0,
    max: 0,
    lastStepAt: null,
    samples: [],
  };
  return { ...base, current, phase: 'running' };
}

function step(state: ProgressState, value: number, max: number, now: number): ProgressState {
  const cur = state.current;
  if (!cur || !(max > 0)) return state;
  if (value === cur.value && max === cur.max) return state;
  // A new bar (first report, a different length, or counting again from lower) restarts the timing:
  // its first interval would include model loading or the previous bar's tail.
  const sameBar = cur.max === max && value > cur.value && cur.lastStepAt !== null;
  const samples = sameBar
    ? [...cur.samples, { ms: now - (cur.lastStepAt ?? now), steps: value - cur.value }].slice(-STEP_WINDOW)
    : [];
  return { ...state, current: { ...cur, value, max, lastStepAt: now, samples } };
}

function markDone(state: ProgressState, id: string, now: number): ProgressState {
  if (!state.graph.counted.has(id) || state.done.has(id) || state.cached.has(id)) return state;
  const cur = state.current;
  const timed = cur && cur.countedAs === id && cur.max === 0;
  const plainNodes = timed
    ? { ms: state.plainNodes.ms + (now - cur.startedAt), count: state.plainNodes.count + 1 }
    : state.plainNodes;
  const nodeMs = cur && cur.countedAs === id ? { ...state.nodeMs, [id]: now - cur.startedAt } : state.nodeMs;
  return { ...state, done: new Set([...state.done, id]), plainNodes, nodeMs };
}

/**
 * A progress_state snapshot lists every node run so far, and comes at every
 * node start, step and finish: read in place, without a copy of its entries
 * (a 60-node workflow sends over a hundred of them, of up to 60 entries each).
 */
function fromProgressState(
  state: ProgressState,
  nodes: Readonly<Record<string, NodeProgressEntry>>,
  now: number,
): ProgressState {
  let next = state;
  // A node expanded into children stays "running" while they run: the innermost running node is current.
  const parents = new Set<string>();
  for (const key in nodes) {
    const e = nodes[key]!;
    if (e.state === 'finished') next = markDone(next, e.node_id ?? key, now);
    if (typeof e.parent_node_id === 'string') parents.add(e.parent_node_id);
  }
  // The current node while it still runs, else the last one listed running.
  const currentId = next.current?.id;
  let pick: { id: string; e: NodeProgressEntry } | null = null;
  for (const key in nodes) {
    const e = nodes[key]!;
    const id = e.node_id ?? key;
    if (e.state !== 'running' || parents.has(id)) continue;
    pick = { id, e };
    if (id === currentId) break;
  }
  if (!pick) return next;
  const { id, e } = pick;
  next = startNode(next, id, e.display_node_id ?? id, now);
  // A node announces itself as value 0 of max 1 before it reports any real step.
  const hasSteps = e.value > 0 || e.max !== 1;
  return hasSteps ? step(next, e.value, e.max, now) : next;
}

function finish(state: ProgressState, phase: ProgressPhase, now: number): ProgressState {
  // The last node ends with the run: timed, so that the next run of the workflow knows its weight.
  const last =
    phase === 'completed' && state.current?.countedAs ? markDone(state, state.current.countedAs, now) : state;
  const current = phase === 'completed' ? null : state.current;
  return { ...last, phase, endedAt: now, current, percent: phase === 'completed' ? 100 : state.percent };
}

/** Counted nodes that will really run. */
export function effectiveTotal(state: ProgressState): number {
  let n = 0;
  for (const id of state.graph.counted) if (!state.cached.has(id)) n++;
  return n;
}

export function doneCount(state: ProgressState): number {
  let n = 0;
  for (const id of state.done) if (!state.cached.has(id)) n++;
  return n;
}

/** The running node's step fraction, when it fills a counted unit not yet done. */
export function currentFraction(state: ProgressState): number {
  const cur = state.current;
  if (!cur?.countedAs || cur.max <= 0 || state.done.has(cur.countedAs) || state.cached.has(cur.countedAs))
    return 0;
  return Math.min(1, Math.max(0, cur.value / cur.max));
}

/**
 * Percent over the weights of the nodes that will run: the finished ones, plus
 * the running node's weight times its step fraction, so that the bar moves
 * with the steps (and with time, once node durations are learned).
 */
function withPercent(state: ProgressState): ProgressState {
  if (state.phase === 'completed') return state.percent === 100 ? state : { ...state, percent: 100 };
  const w = (id: string) => state.weights[id] ?? 1;
  let total = 0;
  let done = 0;
  for (const id of state.graph.counted) {
    if (state.cached.has(id)) continue;
    total += w(id);
    if (state.done.has(id)) done += w(id);
  }
  const cur = state.current?.countedAs;
  const raw = total > 0 ? (100 * (done + (cur ? currentFraction(state) * w(cur) : 0))) / total : 0;
  const percent = Math.max(state.percent, Math.min(100, raw));
  return percent === state.percent ? state : { ...state, percent };
}

function visiblyChanged(a: ProgressState, b: ProgressState): boolean {
  const x = a.current;
  const y = b.current;
  return (
    a.phase !== b.phase ||
    a.percent !== b.percent ||
    a.outputs !== b.outputs ||
    a.error !== b.error ||
    a.done.size !== b.done.size ||
    a.cached.size !== b.cached.size ||
    x?.id !== y?.id ||
    x?.value !== y?.value ||
    x?.max !== y?.max ||
    x?.samples.length !== y?.samples.length ||
    x?.samples.at(-1) !== y?.samples.at(-1)
  );
}
