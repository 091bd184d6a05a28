/**
 * What a person looks for first in a job's graph: seed, steps, cfg, sampler,
 * scheduler, size, the prompts and the models; and every file its outputs
 * list. Pure, over the API-format graph and the job's outputs.
 */
import type { ImageRef, JobFull } from '../api/types.js';

type Graph = JobFull['prompt'];

export interface JobSummary {
  seed: string | null;
  steps: string | null;
  cfg: string | null;
  sampler: string | null;
  scheduler: string | null;
  size: string | null;
  positive: string | null;
  negative: string | null;
  models: string[];
}

const MODEL_INPUT = /^(ckpt_name|unet_name|lora_name|vae_name|clip_name\d?|control_net_name|model_name|upscale_model|style_model_name|gligen_name)$/;

function literal(v: unknown): string | null {
  return typeof v === 'number' || typeof v === 'string' ? String(v) : null;
}

/** The text at the end of a link from a sampler input, through one encoder. */
function textVia(graph: Graph, link: unknown): string | null {
  if (!Array.isArray(link) || typeof link[0] !== 'string') return null;
  const node = graph[link[0]];
  if (!node) return null;
  for (const name of ['text', 'text_g', 'text_l', 'prompt', 'string']) {
    const v = node.inputs?.[name];
    if (typeof v === 'string') return v;
  }
  return null;
}

function ordered(graph: Graph): string[] {
  return Object.keys(graph).sort((a, b) => (Number(a) || 0) - (Number(b) || 0) || (a < b ? -1 : 1));
}

export function summarize(graph: Graph): JobSummary {
  const out: JobSummary = { seed: null, steps: null, cfg: null, sampler: null, scheduler: null, size: null, positive: null, negative: null, models: [] };
  for (const id of ordered(graph)) {
    const inputs = graph[id]?.inputs ?? {};
    out.seed ??= literal(inputs.seed) ?? literal(inputs.noise_seed);
    out.steps ??= literal(inputs.steps);
    out.cfg ??= literal(inputs.cfg);
    out.sampler ??= literal(inputs.sampler_name);
    out.scheduler ??= literal(inputs.scheduler);
    if (out.size === null && typeof inputs.width === 'number' && typeof inputs.height === 'number')
      out.size = `${inputs.width}×${inputs.height}`;
    out.positive ??= textVia(graph, inputs.positive);
    out.negative ??= textVia(graph, inputs.negative);
    for (const [name, v] of Object.entries(inputs))
      if (MODEL_INPUT.test(name) && typeof v === 'string' && !out.models.includes(v)) out.models.push(v);
  }
  return out;
}

export interface OutputFile extends ImageRef {
  nodeId: string;
  kind: string;
}

/** Every file the job's outputs list (images, gifs, videos, audio, 3D, anything with a filename). */
export function outputFiles(outputs: JobFull['outputs']): OutputFile[] {
  const files: OutputFile[] = [];
  for (const [nodeId, out] of Object.entries(outputs ?? {})) {
    for (const [kind, list] of Object.entries(out ?? {})) {
      if (!Array.isArray(list)) continue;
      for (const f of list as Partial<ImageRef>[]) {
        if (!f || typeof f.filename !== 'string') continue;
        files.push({
          nodeId,
          kind,
          filename: f.filename,
          subfolder: typeof f.subfolder === 'string' ? f.subfolder : '',
          type: f.type === 'input' || f.type === 'temp' ? f.type : 'output',
        });
      }
    }
  }
  return files;
}

export function isImageFile(name: string): boolean {
  return /\.(png|jpe?g|webp|gif|avif|bmp)$/i.test(name);
}

export function isVideoFile(name: string): boolean {
  return /\.(mp4|webm|mov|mkv)$/i.test(name);
}
