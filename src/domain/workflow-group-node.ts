/**
 * Legacy group nodes (`extra.groupNodes`, node type `workflow>NAME`, earlier
 * `workflow/NAME`) rebuilt as the graph of a subgraph, so that the converter
 * flattens both the same way (inner ids `<instance>:<index>`).
 *
 * A definition is `{nodes, links, external}`: `nodes` in the group's order,
 * `links` as `[from index, from slot, to index, to slot, ...]`. The instance
 * shows, in that node order, every widget of the inner nodes (its
 * `widgets_values` hold their values one after another), every input not fed
 * inside the group (converted widgets after all the others), and every output
 * that is not used only inside the group.
 */
import type { ObjectInfoMap } from './prompt-graph.js';
import {
  isObject,
  readGraph,
  SUBGRAPH_INPUT_ID,
  SUBGRAPH_OUTPUT_ID,
  type UiGraph,
  type UiNode,
} from './workflow-graph.js';
import { type WidgetSlot, widgetInputs, widgetSlots } from './workflow-widgets.js';

export const GROUP_NODE_PREFIXES = ['workflow>', 'workflow/'];

export function expandGroupNode(
  def: unknown,
  instance: UiNode,
  info: ObjectInfoMap,
  fail: (why: string) => never,
): UiGraph {
  if (!isObject(def) || !Array.isArray(def.nodes)) return fail('its definition has no "nodes" list');
  const rawNodes = def.nodes.map((n, i) => (isObject(n) ? { ...n, id: i } : n));
  const graph = readGraph({ nodes: rawNodes, links: [] }, 'the group node definition');
  const nodes = [...graph.nodes.values()];
  // The definition's links were copied from the graph it was made in: rebuild them by index.
  const wasLinked = nodes.map((n) => n.inputs.map((i) => i.link !== null));
  for (const n of nodes) for (const i of n.inputs) i.link = null;
  let nextLink = 1;
  const internalFrom = new Set<string>();
  const fedInside = new Set<string>();
  for (const l of Array.isArray(def.links) ? def.links : []) {
    if (!Array.isArray(l) || l[0] == null || l[2] == null) continue;
    const [from, fromSlot, to, toSlot] = l.map(Number) as [number, number, number, number];
    const target = nodes[to]?.inputs[toSlot];
    if (!nodes[from] || !target) return fail(`a link joins node ${from} and ${to}, which it does not have`);
    const id = nextLink++;
    graph.links.set(id, {
      id,
      originId: String(from),
      originSlot: fromSlot,
      targetId: String(to),
      targetSlot: toSlot,
      type: l[5],
    });
    target.link = id;
    internalFrom.add(`${from}:${fromSlot}`);
    fedInside.add(`${to}:${toSlot}`);
  }
  const external = new Set(
    (Array.isArray(def.external) ? def.external : [])
      .filter(Array.isArray)
      .map((e) => `${Number(e[0])}:${Number(e[1])}`),
  );

  // Widgets: the instance's values, node after node; a converted widget has no widget on the instance.
  const slots: (WidgetSlot & { owner: number; input: string })[] = [];
  nodes.forEach((n, idx) => {
    const cls = info[n.type];
    if (!cls) return;
    const converted = new Set(
      n.inputs.filter((inp, k) => inp.widget && wasLinked[idx]![k]).map((inp) => inp.widget as string),
    );
    for (const s of widgetSlots(cls)) {
      if (!converted.has(s.name))
        slots.push({ ...s, name: `${idx}\u0000${s.name}`, owner: idx, input: s.name });
    }
  });
  const values = widgetInputs(slots, instance.widgetsValues);
  nodes.forEach((n, idx) => {
    const own = info[n.type] ? widgetInputs(widgetSlots(info[n.type]!), n.widgetsValues) : {};
    for (const s of slots.filter((x) => x.owner === idx)) {
      if (s.name in values) own[s.input] = values[s.name];
    }
    if (info[n.type]) n.widgetsValues = own;
  });

  // Inputs: plain inputs not fed inside, node after node, then converted widgets not fed inside.
  const plain: [number, number][] = [];
  const widgets: [number, number][] = [];
  nodes.forEach((n, idx) => {
    n.inputs.forEach((inp, k) => {
      if (fedInside.has(`${idx}:${k}`)) return;
      if (!inp.widget) plain.push([idx, k]);
      else if (wasLinked[idx]![k]) widgets.push([idx, k]);
    });
  });
  const exposedInputs = [...plain, ...widgets];
  exposedInputs.forEach(([idx, k], slot) => {
    if (slot >= instance.inputs.length) return;
    const id = nextLink++;
    graph.links.set(id, {
      id,
      originId: SUBGRAPH_INPUT_ID,
      originSlot: slot,
      targetId: String(idx),
      targetSlot: k,
      type: nodes[idx]!.inputs[k]!.type,
    });
    nodes[idx]!.inputs[k]!.link = id;
  });

  // Outputs: each one not used only inside the group.
  let out = 0;
  nodes.forEach((n, idx) => {
    const count = info[n.type]?.output.length ?? n.outputs.length;
    for (let s = 0; s < count; s++) {
      const key = `${idx}:${s}`;
      if (internalFrom.has(key) && !external.has(key)) continue;
      const id = nextLink++;
      graph.links.set(id, {
        id,
        originId: String(idx),
        originSlot: s,
        targetId: SUBGRAPH_OUTPUT_ID,
        targetSlot: out++,
        type: n.outputs[s]?.type,
      });
    }
  });
  return graph;
}
