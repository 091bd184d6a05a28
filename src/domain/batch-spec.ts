/**
 * A batch: one workflow run many times, each item with its own values. The
 * batch keeps its template graph once and this spec; an item's graph is
 * derived from (template, spec, index) alone, so the store keeps nothing per
 * item but its index. Pure: random seeds come from a base chosen once by the
 * caller, never from the clock or Math.random.
 *
 * Item order: `count` base items (or one per entry of `items`), each run once
 * per combination of the sweep, the first sweep key varying slowest. Index
 * k (1-based) is base item ⌊(k−1)/combos⌋ with combination (k−1) mod combos;
 * the combinations of one base item share its seed and its traits.
 */
import type { PromptGraph } from './job.js';

/** An input of the graph: node id and input name. */
export interface InputRef {
  node: string;
  input: string;
}

export interface BatchSpec {
  /** base items (before the sweep) */
  count: number;
  /** seeds start + b for base item b, or derived from `random` (a base drawn once), or left as in the graph */
  seed: { start: number } | { random: number } | null;
  /** per base item: trait name (or an input path) → value */
  items: Record<string, unknown>[] | null;
  /** each swept input with its values, in the order given */
  sweep: { ref: InputRef; values: unknown[] }[];
  /** trait name → the inputs it is written into */
  bindings: Record<string, InputRef>;
}

/** What an item runs with: its seed, its traits and every input value set on it. */
export interface ItemValues {
  seed: number | null;
  traits: Record<string, unknown> | null;
  /** the sweep's values for this item, keyed `node.inputs.name` */
  sweep: Record<string, unknown>;
  /** every input set (seed, sweep, bound traits) as [node, input, value] */
  sets: [string, string, unknown][];
}

export class BatchSpecError extends Error {
  override name = 'BatchSpecError';
}

/** Inputs that take the item's seed, in every node that has them as a plain number. */
export const SEED_INPUTS = ['seed', 'noise_seed'] as const;
/** ComfyUI caps seeds at 2^64−1; JSON numbers are exact to 2^53. */
const MAX_SEED = Number.MAX_SAFE_INTEGER;
export const MAX_BATCH_ITEMS = 1_000_000;

/** `3.inputs.cfg` or `3.cfg` → {node: '3', input: 'cfg'}; null when it is neither. */
export function parseInputRef(path: string): InputRef | null {
  const m = /^([^.]+)\.(?:inputs\.)?([^.]+)$/.exec(path);
  return m ? { node: m[1]!, input: m[2]! } : null;
}

export function refKey(ref: InputRef): string {
  return `${ref.node}.inputs.${ref.input}`;
}

function sweepCombos(spec: Pick<BatchSpec, 'sweep'>): number {
  return spec.sweep.reduce((n, s) => n * s.values.length, 1);
}

/** How many jobs the batch has. */
export function batchTotal(spec: Pick<BatchSpec, 'count' | 'sweep'>): number {
  return spec.count * sweepCombos(spec);
}

/** A well-spread 48-bit seed for base item `b` of a random batch (splitmix32 twice over base and b). */
export function derivedSeed(base: number, b: number): number {
  const mix = (x: number): number => {
    let z = (x + 0x9e3779b9) | 0;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  const lo = mix((base % 0x100000000) ^ Math.imul(b, 0x27d4eb2d));
  const hi = mix(lo ^ Math.floor(base / 0x100000000) ^ b) & 0xffff;
  return hi * 0x100000000 + lo;
}

/** The values of item `index` (1-based). */
export function itemValues(spec: BatchSpec, index: number): ItemValues {
  const combos = sweepCombos(spec);
  const b = Math.floor((index - 1) / combos);
  let c = (index - 1) % combos;
  const sets: [string, string, unknown][] = [];
  const sweep: Record<string, unknown> = {};
  // Mixed radix, last key fastest.
  for (let i = spec.sweep.length - 1; i >= 0; i--) {
    const s = spec.sweep[i]!;
    const v = s.values[c % s.values.length];
    c = Math.floor(c / s.values.length);
    sweep[refKey(s.ref)] = v;
  }
  for (const s of spec.sweep) sets.push([s.ref.node, s.ref.input, sweep[refKey(s.ref)]]);
  const traits = spec.items ? (spec.items[b] ?? null) : null;
  if (traits) {
    for (const [key, value] of Object.entries(traits)) {
      const ref = spec.bindings[key] ?? (key.includes('.') ? parseInputRef(key) : null);
      if (ref) sets.push([ref.node, ref.input, value]);
    }
  }
  const seed =
    spec.seed === null ? null : 'start' in spec.seed ? spec.seed.start + b : derivedSeed(spec.seed.random, b);
  return { seed, traits, sweep, sets };
}

/** Every node input that takes a filename prefix gets `<batch name>/<index>`. */
export function filenamePrefix(batchName: string, index: number): string {
  return `${batchName}/${index}`;
}

/**
 * The graph item `index` runs: the template (parsed anew from its JSON, so
 * nothing is shared) with the seed in every sampler, the item's values in
 * their inputs and every `filename_prefix` set to `<batch name>/<index>`.
 */
export function materialise(
  templateJson: string,
  spec: BatchSpec,
  batchName: string,
  index: number,
): PromptGraph {
  const graph = JSON.parse(templateJson) as PromptGraph;
  const v = itemValues(spec, index);
  for (const node of Object.values(graph)) {
    const inputs = node.inputs;
    if (v.seed !== null)
      for (const key of SEED_INPUTS) if (typeof inputs[key] === 'number') inputs[key] = v.seed;
    if (typeof inputs.filename_prefix === 'string') inputs.filename_prefix = filenamePrefix(batchName, index);
  }
  for (const [node, input, value] of v.sets) {
    const n = graph[node];
    if (n) n.inputs[input] = value;
  }
  return graph;
}

/**
 * Why a batch name cannot be used, or null: it names the folder of the
 * batch's outputs (`<name>/<index>`), so it must be one plain path segment.
 */
export function batchNameProblem(name: unknown): string | null {
  if (typeof name !== 'string' || name.length === 0 || name.length > 120)
    return 'name must be a string of 1 to 120 characters';
  const control = [...name].some((ch) => ch.charCodeAt(0) < 0x20);
  if (control || /[/\\:*?"<>|]/.test(name) || name.startsWith('.') || name.trim() !== name)
    return 'name must be one folder name: no / \\ : * ? " < > |, no leading dot or spaces';
  return null;
}

/** What a client sends, before it is checked (the API's body and the CLI's flags both build it). */
export interface BatchRequest {
  count?: unknown;
  seed?: unknown;
  items?: unknown;
  sweep?: unknown;
  bindings?: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function inputOf(graph: PromptGraph, path: string, what: string): InputRef {
  const ref = parseInputRef(path);
  if (!ref) throw new BatchSpecError(`${what} "${path}" is not an input path like "3.inputs.cfg"`);
  if (!isObject(graph[ref.node]))
    throw new BatchSpecError(`${what} "${path}": the workflow has no node ${ref.node}`);
  return ref;
}

/**
 * Checks a request against its graph and builds the spec; `randomBase` is
 * used when the seed is "random". Throws BatchSpecError with a message a
 * person can act on.
 */
export function buildBatchSpec(req: BatchRequest, graph: PromptGraph, randomBase: number): BatchSpec {
  let items: Record<string, unknown>[] | null = null;
  if (req.items !== undefined && req.items !== null) {
    if (!Array.isArray(req.items) || req.items.length === 0 || !req.items.every(isObject))
      throw new BatchSpecError('items must be a non-empty array of objects');
    items = req.items as Record<string, unknown>[];
  }
  let count: number;
  if (req.count === undefined || req.count === null) count = items?.length ?? 1;
  else if (typeof req.count === 'number' && Number.isInteger(req.count) && req.count >= 1) count = req.count;
  else throw new BatchSpecError('count must be an integer ≥ 1');
  if (items && count > items.length)
    throw new BatchSpecError(`count is ${count} but only ${items.length} items were given`);

  let seed: BatchSpec['seed'] = null;
  if (req.seed === 'random') seed = { random: randomBase };
  else if (isObject(req.seed)) {
    const start = req.seed.start;
    if (typeof start !== 'number' || !Number.isInteger(start) || start < 0 || start + count - 1 > MAX_SEED)
      throw new BatchSpecError('seed.start must be an integer ≥ 0 (and the last seed within 2^53)');
    seed = { start };
  } else if (req.seed !== undefined && req.seed !== null)
    throw new BatchSpecError('seed must be {"start": N} or "random"');

  const sweep: BatchSpec['sweep'] = [];
  if (req.sweep !== undefined && req.sweep !== null) {
    if (!isObject(req.sweep)) throw new BatchSpecError('sweep must map input paths to arrays of values');
    for (const [path, values] of Object.entries(req.sweep)) {
      if (!Array.isArray(values) || values.length === 0)
        throw new BatchSpecError(`sweep "${path}" must be a non-empty array`);
      sweep.push({ ref: inputOf(graph, path, 'sweep'), values });
    }
  }

  const bindings: Record<string, InputRef> = {};
  if (req.bindings !== undefined && req.bindings !== null) {
    if (!isObject(req.bindings)) throw new BatchSpecError('bindings must map trait names to input paths');
    for (const [trait, path] of Object.entries(req.bindings)) {
      if (typeof path !== 'string') throw new BatchSpecError(`binding of "${trait}" must be an input path`);
      bindings[trait] = inputOf(graph, path, `binding of "${trait}"`);
    }
  }
  for (const [trait] of Object.entries(bindings))
    if (!items) throw new BatchSpecError(`binding of "${trait}" needs items (traits) to bind`);

  const spec: BatchSpec = { count, seed, items: items ? items.slice(0, count) : null, sweep, bindings };
  const total = batchTotal(spec);
  if (total > MAX_BATCH_ITEMS)
    throw new BatchSpecError(`the batch would have ${total} jobs; at most ${MAX_BATCH_ITEMS} are allowed`);
  return spec;
}
