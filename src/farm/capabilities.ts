/**
 * What a worker can run and what a job needs: node types, and the model
 * files named by loader inputs. A worker's capabilities come from its
 * `/object_info` (the option lists of loader inputs are the models it has);
 * a job's needs from its API-format graph.
 */
import type { PromptGraph } from '../domain/job.js';

/** Loader inputs whose values are model files (the option lists ComfyUI builds from its model folders). */
export const MODEL_INPUTS: ReadonlySet<string> = new Set([
  'ckpt_name',
  'lora_name',
  'vae_name',
  'unet_name',
  'clip_name',
  'clip_name1',
  'clip_name2',
  'clip_name3',
  'control_net_name',
  'upscale_model_name',
  'style_model_name',
  'gligen_name',
  'model_name',
]);

/** The checkpoint-like inputs: a change of one of these means loading a model (affinity prefers to avoid it). */
const PRIMARY_MODEL_INPUTS = ['ckpt_name', 'unet_name'];

export interface Capabilities {
  nodeTypes: ReadonlySet<string>;
  /** every model file the worker offers in any loader input */
  models: ReadonlySet<string>;
  /** node types that are output nodes (`output_node: true`) */
  outputNodes: ReadonlySet<string>;
}

export interface JobNeeds {
  nodeTypes: readonly string[];
  models: readonly string[];
  /** worker tags the job requires (`requires` on the job) */
  tags: readonly string[];
  /** the checkpoint (or UNet) the job loads first, for model affinity */
  checkpoint: string | null;
  /** identifies the workflow for per-worker blocks: its id, else a hash of the graph */
  workflowKey: string;
}

type InputSpec = readonly unknown[];
interface NodeDef {
  output_node?: unknown;
  input?: { required?: Record<string, InputSpec>; optional?: Record<string, InputSpec> };
}

/** Capabilities from a worker's `/object_info` answer. */
export function capabilitiesOf(objectInfo: Record<string, unknown>): Capabilities {
  const models = new Set<string>();
  const outputNodes = new Set<string>();
  for (const [type, def] of Object.entries(objectInfo)) {
    if ((def as NodeDef | null)?.output_node === true) outputNodes.add(type);
    const input = (def as NodeDef | null)?.input;
    for (const group of [input?.required, input?.optional]) {
      if (!group || typeof group !== 'object') continue;
      for (const [name, spec] of Object.entries(group)) {
        if (!MODEL_INPUTS.has(name) || !Array.isArray(spec)) continue;
        for (const option of comboOptions(spec)) models.add(option);
      }
    }
  }
  return { nodeTypes: new Set(Object.keys(objectInfo)), models, outputNodes };
}

/** A combo's options: `[[a, b]]` (classic) or `["COMBO", {options: [a, b]}]` (v3 nodes). */
function comboOptions(spec: InputSpec): string[] {
  const [type, opts] = spec;
  const list = Array.isArray(type)
    ? type
    : type === 'COMBO' && opts && typeof opts === 'object'
      ? (opts as { options?: unknown }).options
      : null;
  return Array.isArray(list) ? list.filter((v): v is string => typeof v === 'string') : [];
}

/** What a job's graph needs of a worker. */
export function needsOf(
  prompt: PromptGraph,
  opts: { tags?: readonly string[]; workflowId?: string | null } = {},
): JobNeeds {
  const nodeTypes = new Set<string>();
  const models = new Set<string>();
  let checkpoint: string | null = null;
  for (const id of Object.keys(prompt).sort(compareIds)) {
    const node = prompt[id]!;
    nodeTypes.add(node.class_type);
    for (const [name, value] of Object.entries(node.inputs ?? {})) {
      if (typeof value !== 'string' || !MODEL_INPUTS.has(name)) continue;
      models.add(value);
      if (checkpoint === null && PRIMARY_MODEL_INPUTS.includes(name)) checkpoint = value;
    }
  }
  return {
    nodeTypes: [...nodeTypes].sort(),
    models: [...models].sort(),
    tags: [...new Set(opts.tags ?? [])].sort(),
    checkpoint,
    workflowKey: opts.workflowId ? `workflow:${opts.workflowId}` : `graph:${graphHash(prompt)}`,
  };
}

function compareIds(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  return Number.isFinite(na) && Number.isFinite(nb) ? na - nb : a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A stable hash of a graph's structure (class types and inputs, keys sorted),
 * FNV-1a 64-bit in hex. Two submissions of the same workflow with the same
 * values hash alike; seeds and prompts are part of it.
 */
export function graphHash(prompt: PromptGraph): string {
  return fnv1a64(canonical(prompt));
}

/**
 * FNV-1a 64 over the UTF-16 code units of `text`, in four 16-bit limbs (a
 * BigInt per character cost a quarter of a millisecond for a 60-node graph).
 * The prime is 2^40 + 0x1b3: its limbs are 0x01b3 and, at bit 32, 0x0100.
 */
export function fnv1a64(text: string): string {
  let h0 = 0x2325;
  let h1 = 0x8422;
  let h2 = 0x9ce4;
  let h3 = 0xcbf2;
  for (let i = 0; i < text.length; i++) {
    h0 ^= text.charCodeAt(i);
    const t0 = h0 * 0x1b3;
    const t1 = h1 * 0x1b3 + (t0 >>> 16);
    const t2 = h2 * 0x1b3 + h0 * 0x100 + (t1 >>> 16);
    const t3 = h3 * 0x1b3 + h1 * 0x100 + (t2 >>> 16);
    h0 = t0 & 0xffff;
    h1 = t1 & 0xffff;
    h2 = t2 & 0xffff;
    h3 = t3 & 0xffff;
  }
  return [h3, h2, h1, h0].map((x) => x.toString(16).padStart(4, '0')).join('');
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => k !== '_meta')
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/**
 * `objectInfo` with the model files the prompt names added to the loaders'
 * option lists. A farm accepts a job for a model no worker has yet: the
 * job waits (routing says why) until a worker that has it comes. Every
 * other check of the graph stays as ComfyUI makes it.
 */
export function withModelsOf<T extends Record<string, unknown>>(objectInfo: T, prompt: unknown): T {
  if (!prompt || typeof prompt !== 'object') return objectInfo;
  let out: Record<string, unknown> | null = null;
  for (const node of Object.values(prompt as Record<string, unknown>)) {
    const n = node as { class_type?: unknown; inputs?: Record<string, unknown> } | null;
    if (!n || typeof n.class_type !== 'string' || !n.inputs || typeof n.inputs !== 'object') continue;
    for (const [name, value] of Object.entries(n.inputs)) {
      if (!MODEL_INPUTS.has(name) || typeof value !== 'string') continue;
      const def = ((out ?? objectInfo) as Record<string, NodeDef | undefined>)[n.class_type];
      const spec = def?.input?.required?.[name] ?? def?.input?.optional?.[name];
      if (!spec || !Array.isArray(spec) || !Array.isArray(spec[0]) || (spec[0] as unknown[]).includes(value))
        continue;
      out ??= { ...objectInfo };
      const copy = structuredClone(def) as NodeDef;
      const group = copy.input?.required?.[name] ? copy.input.required : copy.input!.optional!;
      group[name] = [[...(spec[0] as unknown[]), value], ...spec.slice(1)];
      out[n.class_type] = copy;
    }
  }
  return (out ?? objectInfo) as T;
}
