/**
 * The body of `POST /api/pqueue/jobs` in the three forms users have at hand:
 * `{prompt, ...}` (comfy-queue's own), an "Export (API)" graph as the whole
 * body, or a saved UI workflow as the whole body. Each wrong shape is refused
 * with one plain sentence saying what was expected.
 */
import { QueueError } from '../domain/errors.js';
import { isCanonicalUuid } from '../domain/ids.js';
import type { PromptGraph } from '../domain/job.js';
import { isObject, looksLikeUiWorkflow } from '../domain/workflow-graph.js';

export interface EnqueueFields {
  workflow?: unknown;
  extra_data?: Record<string, unknown>;
  name?: string | null;
  priority?: number;
  prompt_id?: string;
  client_id?: string | null;
  front?: boolean;
  partial_execution_targets?: string[] | null;
  /** worker tags a worker must have to run the job */
  requires?: string[];
}

/** What was sent: an API prompt, or a UI workflow still to be converted (kept as the job's workflow). */
export type EnqueueRequest =
  | { kind: 'prompt'; prompt: PromptGraph; fields: EnqueueFields }
  | { kind: 'workflow'; workflow: unknown; fields: EnqueueFields };

const FIELDS = [
  'prompt',
  'workflow',
  'extra_data',
  'name',
  'priority',
  'prompt_id',
  'client_id',
  'front',
  'partial_execution_targets',
  'requires',
];

const EXPECTED =
  'Send {"prompt": <API-format graph>, ...}, an "Export (API)" graph, or a saved UI workflow ({"nodes": [...], "links": [...], ...}).';

const invalid = (sentence: string): never => {
  throw new QueueError('INVALID_BODY', sentence);
};

const isNode = (v: unknown) => isObject(v) && typeof v.class_type === 'string' && v.class_type !== '';

/** Checks an API-format graph, saying which node is wrong and how; `what` names it in the sentence. */
function checkGraph(v: unknown, what: string): PromptGraph {
  if (!isObject(v))
    return invalid(`${what} must be an API-format graph: an object of nodes, each {"class_type", "inputs"}.`);
  const ids = Object.keys(v);
  if (ids.length === 0) return invalid(`${what} has no nodes.`);
  for (const id of ids) {
    const n = v[id];
    if (!isObject(n)) return invalid(`Node "${id}" of ${what} must be an object {"class_type", "inputs"}.`);
    if (!isNode(n)) return invalid(`Node "${id}" of ${what} has no "class_type" naming its node type.`);
    if (!isObject(n.inputs)) return invalid(`Node "${id}" of ${what} must have "inputs" as an object.`);
  }
  return v as PromptGraph;
}

function fields(b: Record<string, unknown>): EnqueueFields {
  const unknown = Object.keys(b).filter((k) => !FIELDS.includes(k));
  if (unknown.length) {
    invalid(
      `Unknown field ${unknown.map((k) => `"${k.slice(0, 60)}"`).join(', ')}: a job is {"prompt", "workflow"?, "extra_data"?, "name"?, "priority"?, "prompt_id"?, "client_id"?, "front"?, "partial_execution_targets"?, "requires"?}.`,
    );
  }
  const out: EnqueueFields = {};
  if (b.workflow !== undefined) out.workflow = b.workflow;
  if (b.extra_data !== undefined) {
    if (!isObject(b.extra_data)) invalid('"extra_data" must be an object.');
    out.extra_data = b.extra_data as Record<string, unknown>;
  }
  if (b.name !== undefined) {
    if (b.name !== null && (typeof b.name !== 'string' || b.name.length > 500))
      invalid('"name" must be a string of at most 500 characters, or null.');
    out.name = b.name as string | null;
  }
  if (b.priority !== undefined) {
    const p = b.priority;
    if (typeof p !== 'number' || !Number.isInteger(p) || Math.abs(p) > 1_000_000)
      invalid('"priority" must be an integer from -1000000 to 1000000.');
    out.priority = p as number;
  }
  if (b.requires !== undefined) {
    const r = b.requires;
    if (
      !Array.isArray(r) ||
      r.length > 32 ||
      !r.every((t) => typeof t === 'string' && /^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$/.test(t))
    )
      invalid(
        '"requires" must be a list of worker tags (letters, digits, ".", "_", ":" or "-"), at most 32.',
      );
    out.requires = r as string[];
  }
  if (b.prompt_id !== undefined) {
    if (!isCanonicalUuid(b.prompt_id)) invalid('"prompt_id" must be a lowercase hyphenated UUID.');
    out.prompt_id = b.prompt_id as string;
  }
  if (b.client_id !== undefined) {
    if (b.client_id !== null && (typeof b.client_id !== 'string' || b.client_id.length > 200))
      invalid('"client_id" must be a string of at most 200 characters, or null.');
    out.client_id = b.client_id as string | null;
  }
  if (b.front !== undefined) {
    if (typeof b.front !== 'boolean') invalid('"front" must be true or false.');
    out.front = b.front as boolean;
  }
  if (b.partial_execution_targets !== undefined) {
    const t = b.partial_execution_targets;
    if (t !== null && (!Array.isArray(t) || !t.every((x) => typeof x === 'string')))
      invalid('"partial_execution_targets" must be a list of node ids (strings), or null.');
    out.partial_execution_targets = t as string[] | null;
  }
  return out;
}

export function readEnqueueBody(body: unknown): EnqueueRequest {
  if (!isObject(body)) return invalid(`The body must be a JSON object. ${EXPECTED}`);
  if (looksLikeUiWorkflow(body)) return { kind: 'workflow', workflow: body, fields: {} };
  if (Object.keys(body).some((k) => FIELDS.includes(k))) {
    const f = fields(body);
    if (body.prompt === undefined) {
      if (looksLikeUiWorkflow(body.workflow)) return { kind: 'workflow', workflow: body.workflow, fields: f };
      return invalid(`"prompt" is missing. ${EXPECTED}`);
    }
    if (looksLikeUiWorkflow(body.prompt)) {
      if (f.workflow !== undefined)
        invalid('Send the UI workflow once: in "prompt" or in "workflow", not both.');
      return { kind: 'workflow', workflow: body.prompt, fields: f };
    }
    return { kind: 'prompt', prompt: checkGraph(body.prompt, '"prompt"'), fields: f };
  }
  const values = Object.values(body);
  if (values.length > 0 && values.some(isNode))
    return { kind: 'prompt', prompt: checkGraph(body, 'the graph'), fields: {} };
  if (Object.keys(body).length === 0) return invalid(`The body is empty. ${EXPECTED}`);
  return invalid(`The body is not a job. ${EXPECTED}`);
}
