/**
 * A saved UI workflow converted to the API-format prompt that ComfyUI's
 * "Export (API)" (the frontend's graphToPrompt) gives for it, using the
 * workers' object_info for widget names and order. Pure.
 *
 * The rules, as the frontend applies them:
 * - a node's widget values become inputs (workflow-widgets.ts); a linked input
 *   becomes `[source id, slot]`, overriding a converted widget's value;
 * - links are followed through Reroute nodes; a PrimitiveNode gives its value
 *   to the inputs it feeds and is not emitted itself;
 * - a muted node (mode 2) is not emitted, and every input linked from it is
 *   dropped; a bypassed node (mode 4) is not emitted, and each link from one
 *   of its outputs passes on to its input of the matching type;
 * - notes and other frontend-only nodes are dropped;
 * - subgraphs (`definitions.subgraphs`) and group nodes (`extra.groupNodes`)
 *   are flattened, their inner nodes taking the ids `<instance>:<inner>`;
 * - finally, link inputs whose source was not emitted are removed.
 */
import type { ApiPrompt, ObjectInfoMap } from './prompt-graph.js';
import {
  readWorkflow,
  SUBGRAPH_INPUT_ID,
  SUBGRAPH_OUTPUT_ID,
  type UiGraph,
  type UiNode,
  type UiWorkflow,
  WorkflowShapeError,
} from './workflow-graph.js';
import { expandGroupNode, GROUP_NODE_PREFIXES } from './workflow-group-node.js';
import { widgetInputs, widgetSlots, wrapValue } from './workflow-widgets.js';

export type RefusalReason =
  | 'invalid_workflow'
  | 'unknown_node_type'
  | 'missing_definition'
  | 'broken_link'
  | 'link_cycle';

/** Why a workflow cannot be converted, naming the node at fault where there is one. */
export interface WorkflowRefusal {
  reason: RefusalReason;
  message: string;
  node_id: string | null;
  class_type: string | null;
}

export type ConversionResult = { ok: true; prompt: ApiPrompt } | { ok: false; refusal: WorkflowRefusal };

const MUTED = 2;
const BYPASSED = 4;
const MAX_DEPTH = 32;

/** Nodes that live only in the frontend: never sent to ComfyUI. */
const PASS_THROUGH = new Set(['Reroute', 'Reroute (rgthree)']);
const FRONTEND_ONLY = new Set([
  'Note',
  'MarkdownNote',
  'PrimitiveNode',
  ...PASS_THROUGH,
  'Label (rgthree)',
  'Bookmark (rgthree)',
  'Fast Groups Muter (rgthree)',
  'Fast Groups Bypasser (rgthree)',
  'Fast Muter (rgthree)',
  'Fast Bypasser (rgthree)',
]);

class Refused extends Error {
  constructor(readonly refusal: WorkflowRefusal) {
    super(refusal.message);
  }
}

const refuse = (
  reason: RefusalReason,
  message: string,
  node: UiNode | null = null,
  id: string | null = node?.id ?? null,
): never => {
  throw new Refused({ reason, message, node_id: id, class_type: node?.type ?? null });
};

/** Where a node lives: its graph, the instance ids above it, and the instance that holds the graph. */
interface Scope {
  graph: UiGraph;
  path: string[];
  parent: { node: UiNode; scope: Scope } | null;
}

type Resolved = { kind: 'link'; id: string; slot: number } | { kind: 'value'; value: unknown };

const execId = (scope: Scope, node: UiNode) => [...scope.path, node.id].join(':');

function typesMatch(a: unknown, b: unknown): boolean {
  if (!a || !b || a === b || a === '*' || b === '*') return true;
  if (typeof a !== 'string' || typeof b !== 'string') return false;
  const as = a.toLowerCase().split(',');
  const bs = b.toLowerCase().split(',');
  return as.some((t) => bs.includes(t));
}

class Converter {
  private readonly expanded = new Map<string, UiGraph>();

  constructor(
    private readonly wf: UiWorkflow,
    private readonly info: ObjectInfoMap,
  ) {}

  /** The graph inside a subgraph or group node instance, or null for a plain node. */
  innerGraph(scope: Scope, node: UiNode): UiGraph | null {
    const sub = this.wf.subgraphs.get(node.type);
    if (sub) return sub;
    const prefix = GROUP_NODE_PREFIXES.find((p) => node.type.startsWith(p));
    if (!prefix) return null;
    const key = execId(scope, node);
    const known = this.expanded.get(key);
    if (known) return known;
    const name = node.type.slice(prefix.length);
    const def = this.wf.groupNodes.get(name);
    if (def === undefined)
      refuse(
        'missing_definition',
        `node ${key} is group node "${name}", which the workflow does not define`,
        node,
        key,
      );
    const graph = expandGroupNode(def, node, this.info, (why) =>
      refuse(
        'missing_definition',
        `node ${key} is group node "${name}", whose definition is unusable: ${why}`,
        node,
        key,
      ),
    );
    this.expanded.set(key, graph);
    return graph;
  }

  resolveInput(scope: Scope, node: UiNode, slot: number, seen: Set<string>, type?: unknown): Resolved | null {
    const key = `${execId(scope, node)}[I]${slot}`;
    if (seen.has(key))
      refuse(
        'link_cycle',
        `the links into node ${execId(scope, node)} form a loop`,
        node,
        execId(scope, node),
      );
    seen.add(key);
    const input = node.inputs[slot];
    if (!input || input.link === null) return null;
    const link = scope.graph.links.get(input.link);
    if (!link)
      refuse(
        'broken_link',
        `input "${input.name}" of node ${execId(scope, node)} refers to link ${input.link}, which the workflow does not have`,
        node,
        execId(scope, node),
      );
    if (link!.originId === SUBGRAPH_INPUT_ID && scope.parent) {
      const outer = scope.parent;
      const outerInput = outer.node.inputs[link!.originSlot];
      if (!outerInput) return null;
      if (outerInput.link === null) return this.instanceWidget(outer.node, link!.originSlot);
      return this.resolveInput(outer.scope, outer.node, link!.originSlot, seen);
    }
    const origin = scope.graph.nodes.get(link!.originId);
    if (!origin)
      refuse(
        'broken_link',
        `input "${input.name}" of node ${execId(scope, node)} is linked from node ${link!.originId}, which the workflow does not have`,
        node,
        execId(scope, node),
      );
    return this.resolveOutput(scope, origin!, link!.originSlot, type ?? input.type, seen);
  }

  /** The value of an instance's own widget for an unconnected input, when it has one. */
  private instanceWidget(instance: UiNode, slot: number): Resolved | null {
    const input = instance.inputs[slot];
    if (!input?.widget || !Array.isArray(instance.widgetsValues)) return null;
    const index = instance.inputs.slice(0, slot).filter((i) => i.widget).length;
    if (index >= instance.widgetsValues.length) return null;
    return { kind: 'value', value: instance.widgetsValues[index] };
  }

  resolveOutput(scope: Scope, node: UiNode, slot: number, type: unknown, seen: Set<string>): Resolved | null {
    const key = `${execId(scope, node)}[O]${slot}`;
    if (seen.has(key))
      refuse(
        'link_cycle',
        `the links out of node ${execId(scope, node)} form a loop`,
        node,
        execId(scope, node),
      );
    seen.add(key);
    if (node.mode === BYPASSED) {
      const i = this.bypassSlot(node, slot, type);
      return i < 0 ? null : this.resolveInput(scope, node, i, seen);
    }
    const inner = this.innerGraph(scope, node);
    if (inner) {
      const innerScope = this.enter(scope, node, inner);
      const link = [...inner.links.values()].find(
        (l) => l.targetId === SUBGRAPH_OUTPUT_ID && l.targetSlot === slot,
      );
      if (!link) return null;
      if (link.originId === SUBGRAPH_INPUT_ID) {
        return node.inputs[link.originSlot]?.link == null
          ? this.instanceWidget(node, link.originSlot)
          : this.resolveInput(scope, node, link.originSlot, seen);
      }
      const origin = inner.nodes.get(link.originId);
      if (!origin)
        refuse(
          'broken_link',
          `output ${slot} of node ${execId(scope, node)} comes from inner node ${link.originId}, which its definition does not have`,
          node,
          execId(scope, node),
        );
      return this.resolveOutput(innerScope, origin!, link.originSlot, type, seen);
    }
    if (node.type === 'PrimitiveNode') {
      const v = node.widgetsValues;
      return Array.isArray(v) && v.length > 0 ? { kind: 'value', value: v[0] } : null;
    }
    if (FRONTEND_ONLY.has(node.type)) {
      return node.inputs[slot] ? this.resolveInput(scope, node, slot, seen, type) : null;
    }
    return { kind: 'link', id: execId(scope, node), slot };
  }

  /** The scope inside an instance; a definition that holds itself would nest without end. */
  private enter(scope: Scope, node: UiNode, inner: UiGraph): Scope {
    if (scope.path.length >= MAX_DEPTH) {
      const top = scope.path[0]!;
      refuse(
        'link_cycle',
        `node ${top} nests subgraphs more than ${MAX_DEPTH} deep: a subgraph holds itself`,
        node,
        top,
      );
    }
    return { graph: inner, path: [...scope.path, node.id], parent: { node, scope } };
  }

  /** The input a bypassed node passes to its output `slot`: same index if the type fits, else the first that fits. */
  private bypassSlot(node: UiNode, slot: number, type: unknown): number {
    const { inputs } = node;
    if (type === '*' || type === '') return inputs.length > slot ? slot : 0;
    const outType = node.outputs[slot]?.type;
    const same = inputs[slot];
    if (same && typesMatch(same.type, outType) && typesMatch(same.type, type)) return slot;
    const exact = inputs.findIndex((i) => i.type === type);
    if (exact !== -1) return exact;
    return inputs.findIndex((i) => typesMatch(i.type, outType) && typesMatch(i.type, type));
  }

  emit(scope: Scope, out: ApiPrompt, skip: boolean): void {
    for (const node of scope.graph.nodes.values()) {
      if (node.id === SUBGRAPH_INPUT_ID || node.id === SUBGRAPH_OUTPUT_ID) continue;
      const off = skip || node.mode === MUTED || node.mode === BYPASSED;
      const inner = this.innerGraph(scope, node);
      if (inner) {
        this.emit(this.enter(scope, node, inner), out, off);
        continue;
      }
      if (off || FRONTEND_ONLY.has(node.type)) continue;
      const cls = this.info[node.type];
      const id = execId(scope, node);
      if (!cls)
        refuse(
          'unknown_node_type',
          `node ${id} is of type "${node.type}", which no worker knows (a custom node that is not installed?)`,
          node,
          id,
        );
      const inputs = widgetInputs(widgetSlots(cls!), node.widgetsValues);
      for (const [i, input] of node.inputs.entries()) {
        const r = this.resolveInput(scope, node, i, new Set());
        if (!r) continue;
        inputs[input.name] = r.kind === 'value' ? wrapValue(r.value) : [r.id, r.slot];
      }
      out[id] = { inputs, class_type: node.type, _meta: { title: node.title ?? cls!.display_name } };
    }
  }
}

/** Converts a saved UI workflow to an API prompt, or says which node stops it and why. */
export function workflowToPrompt(workflow: unknown, objectInfo: ObjectInfoMap): ConversionResult {
  try {
    const wf = readWorkflow(workflow);
    const out: ApiPrompt = {};
    new Converter(wf, objectInfo).emit({ graph: wf.root, path: [], parent: null }, out, false);
    // Inputs linked from nodes that were not emitted (muted ones) are dropped, as the frontend does.
    for (const node of Object.values(out)) {
      for (const [name, v] of Object.entries(node.inputs)) {
        if (Array.isArray(v) && v.length === 2 && !out[String(v[0])]) delete node.inputs[name];
      }
    }
    return { ok: true, prompt: out };
  } catch (err) {
    if (err instanceof Refused) return { ok: false, refusal: err.refusal };
    if (err instanceof WorkflowShapeError) {
      return {
        ok: false,
        refusal: { reason: 'invalid_workflow', message: err.message, node_id: null, class_type: null },
      };
    }
    throw err;
  }
}
