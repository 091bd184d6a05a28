/**
 * Cache keys for ComfyUI's classic node cache: a node's key is its class_type
 * and inputs, with each link replaced by the upstream node's key, so equal
 * subgraphs share keys across prompts whatever their node ids. A key is a
 * digest of that text, so that it stays short down a long chain of nodes
 * (with the upstream text itself, a key grew with every node: a chain of 60
 * nodes made a string too long for V8).
 */
import { createHash } from 'node:crypto';
import type { ApiPrompt } from '../domain/prompt-graph.js';

/** True for an input value that links to another node: `[node_id, output_index]`. */
export const isLink = (v: unknown): v is [string, number] => Array.isArray(v) && v.length === 2;

function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** Cache keys: class_type plus inputs, links replaced by the upstream node's key. */
export function signatures(prompt: ApiPrompt): Map<string, string> {
  const sigs = new Map<string, string>();
  const visit = (id: string, path: Set<string>): string => {
    const known = sigs.get(id);
    if (known) return known;
    const node = prompt[id];
    if (!node || path.has(id)) return `!${id}`;
    path.add(id);
    const inputs: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node.inputs)) {
      inputs[k] = isLink(v) ? ['@link', visit(String(v[0]), path), v[1]] : v;
    }
    path.delete(id);
    const sig = createHash('sha256')
      .update(stable([node.class_type, inputs]))
      .digest('base64url');
    sigs.set(id, sig);
    return sig;
  };
  for (const id of Object.keys(prompt)) visit(id, new Set());
  return sigs;
}
