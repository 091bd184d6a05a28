/**
 * What `submit` sends for a file: the file's JSON read as one of the three
 * forms ComfyUI users have at hand, and the request body for each copy.
 *
 * - `{prompt, ...}`: a POST /api/pqueue/jobs body already; the flags add to it.
 * - an API graph ("Export (API)": node id → `{class_type, inputs}`): wrapped
 *   as `{prompt: graph}`.
 * - a UI workflow (the editor's "Save": `nodes` and `links`): sent as it is,
 *   for a server that converts workflows itself; name, priority and front are
 *   applied after it is queued.
 */
import { randomInt } from 'node:crypto';

export type SubmitForm = 'body' | 'api-graph' | 'ui-workflow';

export interface SubmitFlags {
  name?: string;
  priority?: number;
  front?: boolean;
  randomSeed?: boolean;
}

export class SubmitInputError extends Error {
  override name = 'SubmitInputError';
}

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

function isApiGraph(v: unknown): v is Record<string, { class_type: string; inputs: Obj }> {
  if (!isObject(v)) return false;
  const nodes = Object.values(v);
  return (
    nodes.length > 0 &&
    nodes.every((n) => isObject(n) && typeof n.class_type === 'string' && isObject(n.inputs))
  );
}

export function classify(json: unknown): SubmitForm {
  if (isObject(json) && 'prompt' in json) return 'body';
  if (isApiGraph(json)) return 'api-graph';
  if (isObject(json) && Array.isArray(json.nodes) && Array.isArray(json.links)) return 'ui-workflow';
  throw new SubmitInputError(
    'is neither an API-format graph ("Export (API)" in ComfyUI), a {"prompt": ...} body, nor a saved UI workflow',
  );
}

/** Seed-like inputs that `--seed random` replaces, as the server's requeue does. */
const SEED_INPUTS = ['seed', 'noise_seed'];
/** Seeds stay below 2^48: exact in a JS number and within every sampler's range. */
const SEED_BOUND = 2 ** 48 - 1;

/** Sets a new random value on every literal seed/noise_seed input; answers how many were set. */
export function randomizeSeeds(graph: Obj, random: () => number = () => randomInt(0, SEED_BOUND)): number {
  let n = 0;
  for (const node of Object.values(graph)) {
    if (!isObject(node) || !isObject(node.inputs)) continue;
    for (const key of SEED_INPUTS) {
      if (typeof node.inputs[key] === 'number') {
        node.inputs[key] = random();
        n++;
      }
    }
  }
  return n;
}

/** The body of one copy of a file's job. */
export function submitBody(json: unknown, form: SubmitForm, flags: SubmitFlags): Obj {
  const copy = structuredClone(json) as Obj;
  if (form === 'ui-workflow') {
    if (flags.randomSeed) {
      throw new SubmitInputError(
        'is a UI workflow: --seed random needs an API-format graph ("Export (API)" in ComfyUI)',
      );
    }
    return copy;
  }
  const body: Obj = form === 'body' ? copy : { prompt: copy };
  if (flags.randomSeed) {
    if (!isObject(body.prompt) || randomizeSeeds(body.prompt) === 0) {
      throw new SubmitInputError('has no literal seed or noise_seed input for --seed random to set');
    }
  }
  if (flags.name !== undefined) body.name = flags.name;
  if (flags.priority !== undefined) body.priority = flags.priority;
  if (flags.front) body.front = true;
  return body;
}
