/**
 * What a job card of the live monitor shows (seed 001), read from a job's
 * prompt graph: the prompt excerpt, the seed, the output folder and the image
 * to show. Pure.
 */
import type { Job, JobOutputs, PromptGraph } from './job.js';

/** Prompt excerpts are cut to this many characters (an ellipsis included). */
export const EXCERPT_MAX = 160;

const TEXT_INPUTS = ['text', 'text_g', 'text_l', 'prompt', 'positive', 'string'];
const TEXT_NODE = /TextEncode|Prompt/i;

/** Node ids in graph order: numeric ids by value, the rest after them by text. */
function orderedIds(prompt: PromptGraph): string[] {
  return Object.keys(prompt).sort((a, b) => {
    const x = Number(a);
    const y = Number(b);
    if (Number.isFinite(x) && Number.isFinite(y)) return x - y;
    if (Number.isFinite(x)) return -1;
    if (Number.isFinite(y)) return 1;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

function textOf(prompt: PromptGraph, id: string): string | null {
  const node = prompt[id];
  if (!node) return null;
  for (const name of TEXT_INPUTS) {
    const v = node.inputs[name];
    if (typeof v === 'string' && v.trim()) return v;
  }
  return null;
}

/**
 * The positive prompt when a sampler's `positive` input leads straight to a
 * text encoder; otherwise the first text-encoder-like node's text in graph order.
 */
export function promptText(prompt: PromptGraph): string | null {
  const ids = orderedIds(prompt);
  for (const id of ids) {
    const link = prompt[id]!.inputs.positive;
    if (Array.isArray(link) && typeof link[0] === 'string') {
      const text = textOf(prompt, link[0]);
      if (text !== null) return text;
    }
  }
  for (const id of ids) {
    if (!TEXT_NODE.test(prompt[id]!.class_type)) continue;
    const text = textOf(prompt, id);
    if (text !== null) return text;
  }
  return null;
}

export function excerpt(text: string | null, max = EXCERPT_MAX): string | null {
  if (text === null) return null;
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1).trimEnd()}…`;
}

/** The first literal `seed` or `noise_seed` in graph order. */
export function seedOf(prompt: PromptGraph): number | null {
  for (const id of orderedIds(prompt)) {
    for (const name of ['seed', 'noise_seed']) {
      const v = prompt[id]!.inputs[name];
      if (typeof v === 'number' && Number.isFinite(v)) return v;
    }
  }
  return null;
}

/**
 * The folder the first save node writes to, relative to ComfyUI's output
 * folder: the part of its `filename_prefix` before the last "/" ("" for the
 * output folder itself). Null when no node has a literal filename_prefix.
 */
export function outputFolder(prompt: PromptGraph): string | null {
  return outputFolders(prompt)[0] ?? null;
}

/** Every distinct folder of the graph's literal filename_prefix inputs, in graph order. */
export function outputFolders(prompt: PromptGraph): string[] {
  const out: string[] = [];
  for (const id of orderedIds(prompt)) {
    const prefix = prompt[id]!.inputs.filename_prefix;
    if (typeof prefix !== 'string') continue;
    const norm = prefix.replace(/\\/g, '/');
    const cut = norm.lastIndexOf('/');
    const folder = cut < 0 ? '' : norm.slice(0, cut).replace(/^\/+|\/+$/g, '');
    if (!out.includes(folder)) out.push(folder);
  }
  return out;
}

export interface ImageRef {
  filename: string;
  subfolder: string;
  type: 'input' | 'output' | 'temp';
}

/** `/view?filename=…&subfolder=…&type=…`: ComfyUI's image route, relative to the server that has the file. */
export function viewPath(ref: ImageRef): string {
  const q = new URLSearchParams({ filename: ref.filename, subfolder: ref.subfolder, type: ref.type });
  return `/view?${q.toString()}`;
}

/**
 * The image of a LoadImage-like node: its `image` input, as ComfyUI names
 * it ("sub/dir/name.png", optionally annotated " [output]" or " [temp]").
 */
export function inputImage(prompt: PromptGraph): ImageRef | null {
  for (const id of orderedIds(prompt)) {
    const node = prompt[id]!;
    if (!/LoadImage/i.test(node.class_type)) continue;
    const v = node.inputs.image;
    if (typeof v !== 'string' || !v.trim()) continue;
    const m = /^(.*?)\s*\[(input|output|temp)\]$/.exec(v.trim());
    const name = (m ? m[1]! : v.trim()).replace(/\\/g, '/');
    const cut = name.lastIndexOf('/');
    return {
      filename: cut < 0 ? name : name.slice(cut + 1),
      subfolder: cut < 0 ? '' : name.slice(0, cut),
      type: (m?.[2] as ImageRef['type'] | undefined) ?? 'input',
    };
  }
  return null;
}

/** The first image among node outputs (history `outputs`, or the outputs a running job reported so far). */
export function firstOutputImage(outputs: JobOutputs | null | undefined): ImageRef | null {
  if (!outputs) return null;
  for (const id of Object.keys(outputs)) {
    const images = outputs[id]?.images;
    if (!Array.isArray(images)) continue;
    for (const img of images) {
      const i = img as Partial<ImageRef> | null;
      if (i && typeof i.filename === 'string') {
        const type = i.type === 'input' || i.type === 'temp' ? i.type : 'output';
        return { filename: i.filename, subfolder: typeof i.subfolder === 'string' ? i.subfolder : '', type };
      }
    }
  }
  return null;
}

export type Thumbnail = ImageRef & { source: 'output' | 'input'; url: string };

/**
 * Seed 001: the output preview if there is one (the job's stored outputs, else
 * what a running job's nodes reported so far), else the input image, else none.
 */
export function thumbnail(
  job: Pick<Job, 'prompt' | 'outputs'>,
  live?: readonly { readonly images: readonly { filename: string; subfolder: string; type: string }[] }[],
): Thumbnail | null {
  const liveOutputs: JobOutputs | undefined =
    live && Object.fromEntries(live.map((o, i) => [String(i), { images: o.images }]));
  const out = firstOutputImage(job.outputs) ?? firstOutputImage(liveOutputs);
  if (out) return { source: 'output', ...out, url: viewPath(out) };
  const input = inputImage(job.prompt);
  return input ? { source: 'input', ...input, url: viewPath(input) } : null;
}
