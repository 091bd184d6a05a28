/**
 * A ComfyUI UI workflow (what the frontend's Save writes, litegraph JSON) read
 * into one normalized shape: links as objects whichever of the two spellings
 * the file uses (`[id, from, from_slot, to, to_slot, type]` in a root graph
 * of schema 0.4, objects in schema 1 and in subgraph definitions), node ids as
 * strings. Pure; a malformed file is reported, never guessed at.
 */

export interface UiSlot {
  name: string;
  type: unknown;
  /** the link feeding an input, null when unconnected */
  link: number | null;
  /** set on an input that belongs to a widget (a "converted" widget when linked) */
  widget: string | null;
}

export interface UiNode {
  id: string;
  type: string;
  /** litegraph mode: 0 always, 2 never (muted), 4 bypass */
  mode: number;
  title: string | null;
  inputs: UiSlot[];
  outputs: UiSlot[];
  widgetsValues: unknown[] | Record<string, unknown>;
}

export interface UiLink {
  id: number;
  originId: string;
  originSlot: number;
  targetId: string;
  targetSlot: number;
  type: unknown;
}

export interface UiGraph {
  nodes: Map<string, UiNode>;
  links: Map<number, UiLink>;
}

/** The ids of a subgraph's own input and output nodes (litegraph SUBGRAPH_INPUT_ID / OUTPUT_ID). */
export const SUBGRAPH_INPUT_ID = '-10';
export const SUBGRAPH_OUTPUT_ID = '-20';

export interface UiWorkflow {
  root: UiGraph;
  /** subgraph definitions by id (workflow `definitions.subgraphs`) */
  subgraphs: Map<string, UiGraph>;
  /** legacy group node definitions by name (workflow `extra.groupNodes`) */
  groupNodes: Map<string, unknown>;
}

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** True when `v` looks like a saved UI workflow rather than an API-format graph. */
export function looksLikeUiWorkflow(v: unknown): boolean {
  return (
    isObject(v) && Array.isArray(v.nodes) && (Array.isArray(v.links) || 'last_node_id' in v || 'state' in v)
  );
}

export class WorkflowShapeError extends Error {}

function slot(raw: unknown, where: string): UiSlot {
  if (!isObject(raw)) throw new WorkflowShapeError(`${where} must be an object {"name", "type", "link"}`);
  const link = raw.link;
  const widget = isObject(raw.widget) && typeof raw.widget.name === 'string' ? raw.widget.name : null;
  return {
    name: typeof raw.name === 'string' ? raw.name : '',
    type: raw.type,
    link: typeof link === 'number' ? link : null,
    widget,
  };
}

function node(raw: unknown, i: number): UiNode {
  if (!isObject(raw))
    throw new WorkflowShapeError(`node ${i} of the list must be an object {"id", "type", ...}`);
  const id = raw.id;
  if (typeof id !== 'number' && typeof id !== 'string')
    throw new WorkflowShapeError(`node ${i} of the list has no "id" (a number)`);
  if (typeof raw.type !== 'string' || !raw.type)
    throw new WorkflowShapeError(`node ${String(id)} has no "type" (its node class)`);
  const inputs = Array.isArray(raw.inputs) ? raw.inputs : [];
  const outputs = Array.isArray(raw.outputs) ? raw.outputs : [];
  const wv = raw.widgets_values;
  return {
    id: String(id),
    type: raw.type,
    mode: typeof raw.mode === 'number' ? raw.mode : 0,
    title: typeof raw.title === 'string' ? raw.title : null,
    inputs: inputs.map((s, k) => slot(s, `input ${k} of node ${String(id)}`)),
    outputs: outputs.map((s, k) => slot(s, `output ${k} of node ${String(id)}`)),
    widgetsValues: Array.isArray(wv) || isObject(wv) ? wv : [],
  };
}

function link(raw: unknown): UiLink | null {
  if (Array.isArray(raw) && raw.length >= 5) {
    const [id, from, fromSlot, to, toSlot, type] = raw;
    if (typeof id !== 'number') return null;
    return {
      id,
      originId: String(from),
      originSlot: Number(fromSlot),
      targetId: String(to),
      targetSlot: Number(toSlot),
      type,
    };
  }
  if (isObject(raw) && typeof raw.id === 'number') {
    return {
      id: raw.id,
      originId: String(raw.origin_id),
      originSlot: Number(raw.origin_slot),
      targetId: String(raw.target_id),
      targetSlot: Number(raw.target_slot),
      type: raw.type,
    };
  }
  return null;
}

/** Reads one graph (the root or a subgraph definition). */
export function readGraph(raw: Record<string, unknown>, where: string): UiGraph {
  if (!Array.isArray(raw.nodes)) throw new WorkflowShapeError(`${where} has no "nodes" list`);
  const nodes = new Map<string, UiNode>();
  raw.nodes.forEach((n, i) => {
    const parsed = node(n, i);
    nodes.set(parsed.id, parsed);
  });
  const links = new Map<number, UiLink>();
  for (const l of Array.isArray(raw.links) ? raw.links : []) {
    const parsed = link(l);
    if (parsed) links.set(parsed.id, parsed);
  }
  return { nodes, links };
}

/** Reads a saved UI workflow; throws WorkflowShapeError saying what is malformed. */
export function readWorkflow(raw: unknown): UiWorkflow {
  if (!isObject(raw)) throw new WorkflowShapeError('the workflow must be an object {"nodes", "links", ...}');
  const root = readGraph(raw, 'the workflow');
  const subgraphs = new Map<string, UiGraph>();
  const defs =
    isObject(raw.definitions) && Array.isArray(raw.definitions.subgraphs) ? raw.definitions.subgraphs : [];
  for (const d of defs) {
    if (!isObject(d) || typeof d.id !== 'string')
      throw new WorkflowShapeError('every subgraph of "definitions.subgraphs" needs an "id"');
    subgraphs.set(d.id, readGraph(d, `subgraph ${d.id}`));
  }
  const groups = isObject(raw.extra) && isObject(raw.extra.groupNodes) ? raw.extra.groupNodes : {};
  return { root, subgraphs, groupNodes: new Map(Object.entries(groups)) };
}
