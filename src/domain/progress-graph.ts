/**
 * What the progress tracker needs to know about a prompt graph before it
 * runs: each node's class and display title, and which nodes count towards
 * the percentage.
 */
import type { PromptGraph } from './job.js';

/**
 * Node types that finish in microseconds (routing, primitives, notes, simple
 * math). Counting them would make the bar jump by a whole node for no work,
 * so they are left out of the total. Frontend-only types (Reroute, Note,
 * PrimitiveNode) never reach ComfyUI, but a graph may still list them.
 */
export const DEFAULT_INSTANT_NODE_TYPES: readonly string[] = [
  'Reroute',
  'PrimitiveNode',
  'Note',
  'MarkdownNote',
  'PrimitiveInt',
  'PrimitiveFloat',
  'PrimitiveString',
  'PrimitiveStringMultiline',
  'PrimitiveBoolean',
  'Reroute (rgthree)',
  'Anything Everywhere',
  'easy int',
  'easy float',
  'easy string',
  'easy boolean',
  'easy mathInt',
  'easy mathFloat',
  'easy mathString',
  'SimpleMath+',
  'SimpleMathInt+',
  'SimpleMathFloat+',
  'MathExpression|pysssss',
  'CM_IntBinaryOperation',
  'CM_FloatBinaryOperation',
  'ImpactInt',
  'ImpactFloat',
];

export interface GraphNodeInfo {
  classType: string;
  /** `_meta.title`, else the UI workflow's title for the node, else the class */
  title: string;
}

export interface ProgressGraph {
  /** prompt node id → class and title */
  nodes: Readonly<Record<string, GraphNodeInfo>>;
  /** ids that count towards the percentage before caching is known */
  counted: ReadonlySet<string>;
}

export interface GraphOptions {
  /** UI workflow (litegraph JSON), read only for node titles */
  workflow?: unknown;
  instantNodeTypes?: readonly string[];
  /** output node ids to run (partial execution); only they and their ancestors count */
  targets?: readonly string[] | null;
}

export function analyzeGraph(prompt: PromptGraph, options: GraphOptions = {}): ProgressGraph {
  const uiTitles = workflowTitles(options.workflow);
  const instant = new Set(options.instantNodeTypes ?? DEFAULT_INSTANT_NODE_TYPES);
  const nodes: Record<string, GraphNodeInfo> = {};
  for (const [id, node] of Object.entries(prompt)) {
    const metaTitle = node._meta?.title;
    const title = (typeof metaTitle === 'string' && metaTitle) || uiTitles.get(id) || node.class_type;
    nodes[id] = { classType: node.class_type, title };
  }
  const reachable = options.targets ? ancestorsOf(prompt, options.targets) : null;
  const counted = new Set<string>();
  for (const [id, info] of Object.entries(nodes)) {
    if (instant.has(info.classType)) continue;
    if (reachable && !reachable.has(id)) continue;
    counted.add(id);
  }
  return { nodes, counted };
}

/** Titles a person gave nodes in the UI workflow, by node id (top level only; subgraphs are not read). */
function workflowTitles(workflow: unknown): Map<string, string> {
  const titles = new Map<string, string>();
  const list = (workflow as { nodes?: unknown } | null | undefined)?.nodes;
  if (!Array.isArray(list)) return titles;
  for (const n of list as unknown[]) {
    const { id, title } = (n ?? {}) as { id?: unknown; title?: unknown };
    if ((typeof id === 'number' || typeof id === 'string') && typeof title === 'string' && title) {
      titles.set(String(id), title);
    }
  }
  return titles;
}

/** The targets and every node they read from, following `[id, slot]` links. */
function ancestorsOf(prompt: PromptGraph, targets: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const stack = [...targets];
  for (let id = stack.pop(); id !== undefined; id = stack.pop()) {
    const node = prompt[id];
    if (!node || seen.has(id)) continue;
    seen.add(id);
    for (const value of Object.values(node.inputs)) {
      if (
        Array.isArray(value) &&
        value.length === 2 &&
        typeof value[0] === 'string' &&
        typeof value[1] === 'number'
      ) {
        stack.push(value[0]);
      }
    }
  }
  return seen;
}
