/**
 * What each known node does when the simulator executes it. Samplers take
 * time in steps (reporting progress and previews through `ctx.step`), the
 * rest return at once. Outputs are `SimValue` recipes, not tensors.
 */
import { readPngSize } from '../media/png.js';
import type { FileStore } from './file-store.js';
import { previewJpeg } from './preview-jpeg.js';
import { type FileItem, type ImageValue, type LatentValue, type SimValue, saveImages } from './sim-values.js';

export interface StepOptions {
  waitMs: number;
  preview: Buffer | null;
  text?: string;
}

export interface NodeContext {
  nodeId: string;
  /** Resolved inputs: literals and upstream values. */
  inputs: Record<string, unknown>;
  /** The whole prompt and extra_pnginfo, for the metadata of saved images. */
  prompt: unknown;
  extraPngInfo: unknown;
  files: FileStore;
  stepMs: number;
  previews: boolean;
  /** One progress-bar update: waits, checks for interrupt, sends progress (and preview, text). */
  step(value: number, max: number, opts: StepOptions): Promise<void>;
  random(): number;
}

export interface NodeResult {
  outputs: SimValue[];
  ui?: Record<string, unknown>;
}

/** A Python exception raised by a node, as execution_error reports it. */
export class NodeFailure extends Error {
  constructor(
    message: string,
    readonly exceptionType: string,
    readonly raisedAt: { file: string; line: number; fn: string; code: string },
  ) {
    super(message);
  }
}

type Behaviour = (ctx: NodeContext) => NodeResult | Promise<NodeResult>;

const num = (v: unknown, d: number) => (typeof v === 'number' && Number.isFinite(v) ? v : d);
const image = (v: unknown): ImageValue =>
  v && typeof v === 'object' && (v as SimValue).kind === 'IMAGE'
    ? (v as ImageValue)
    : {
        kind: 'IMAGE',
        width: 64,
        height: 64,
        batch: 1,
        fill: { kind: 'solid', rgb: [0, 0, 0] },
        inverted: false,
      };

function save(ctx: NodeContext, type: 'output' | 'temp', prefix: string): NodeResult {
  const items: FileItem[] = saveImages(
    ctx.files,
    image(ctx.inputs.images),
    prefix,
    type,
    ctx.prompt,
    ctx.extraPngInfo,
  );
  return { outputs: [], ui: { images: items } };
}

const LETTERS = 'abcdefghijklmnopqrstupvxyz'; // sic: ComfyUI's PreviewImage alphabet

export const SAMPLER_CLASSES = new Set(['KSampler', 'FakeSampler']);

export const BEHAVIOURS: Record<string, Behaviour> = {
  CheckpointLoaderSimple: ({ inputs }) => {
    const label = String(inputs.ckpt_name);
    return { outputs: ['MODEL', 'CLIP', 'VAE'].map((kind) => ({ kind, label })) };
  },
  CLIPTextEncode: ({ inputs }) => ({
    outputs: [{ kind: 'CONDITIONING', label: String(inputs.text).slice(0, 40) }],
  }),
  EmptyLatentImage: ({ inputs }) => ({
    outputs: [
      {
        kind: 'LATENT',
        width: num(inputs.width, 512),
        height: num(inputs.height, 512),
        batch: num(inputs.batch_size, 1),
        seed: null,
      },
    ],
  }),
  KSampler: async (ctx) => {
    const steps = num(ctx.inputs.steps, 20);
    const seed = num(ctx.inputs.seed, 0);
    for (let i = 1; i <= steps; i++) {
      await ctx.step(i, steps, {
        waitMs: ctx.stepMs,
        preview: ctx.previews ? previewJpeg(seed, i, steps) : null,
      });
    }
    const latent = ctx.inputs.latent_image as LatentValue | undefined;
    return {
      outputs: [
        {
          kind: 'LATENT',
          width: latent?.width ?? 512,
          height: latent?.height ?? 512,
          batch: latent?.batch ?? 1,
          seed,
        },
      ],
    };
  },
  VAEDecode: ({ inputs }) => {
    const l = inputs.samples as LatentValue | undefined;
    const fill =
      l?.seed === null || l?.seed === undefined
        ? { kind: 'solid' as const, rgb: [0, 0, 0] as [number, number, number] }
        : { kind: 'noise' as const, seed: l.seed };
    return {
      outputs: [
        {
          kind: 'IMAGE',
          width: l?.width ?? 512,
          height: l?.height ?? 512,
          batch: l?.batch ?? 1,
          fill,
          inverted: false,
        },
      ],
    };
  },
  SaveImage: (ctx) => save(ctx, 'output', String(ctx.inputs.filename_prefix ?? 'ComfyUI')),
  PreviewImage: (ctx) => {
    let letters = '';
    for (let i = 0; i < 5; i++) letters += LETTERS[Math.floor(ctx.random() * LETTERS.length)];
    return save(ctx, 'temp', `ComfyUI_temp_${letters}`);
  },
  EmptyImage: ({ inputs }) => {
    const c = num(inputs.color, 0);
    return {
      outputs: [
        {
          kind: 'IMAGE',
          width: num(inputs.width, 512),
          height: num(inputs.height, 512),
          batch: num(inputs.batch_size, 1),
          fill: { kind: 'solid', rgb: [(c >> 16) & 255, (c >> 8) & 255, c & 255] },
          inverted: false,
        },
      ],
    };
  },
  ImageInvert: ({ inputs }) => {
    const img = image(inputs.image);
    return { outputs: [{ ...img, inverted: !img.inverted }] };
  },
  LoadImage: ({ inputs, files }) => {
    const name = String(inputs.image).replace(/ \[(input|output|temp)\]$/, '');
    const size = readPngSize(files.get('input', '', name) ?? Buffer.alloc(0)) ?? { width: 64, height: 64 };
    return {
      outputs: [
        { kind: 'IMAGE', ...size, batch: 1, fill: { kind: 'solid', rgb: [128, 128, 128] }, inverted: false },
        { kind: 'MASK', label: name },
      ],
    };
  },
  FakeSampler: async (ctx) => {
    const { inputs } = ctx;
    const steps = num(inputs.steps, 10);
    const seed = num(inputs.seed, 0);
    const waitMs = num(inputs.step_seconds, 0.1) * 1000;
    const failAt = num(inputs.fail_at_step, -1);
    const preview = inputs.preview !== false;
    for (let i = 1; i <= steps; i++) {
      await ctx.step(i, steps, {
        waitMs,
        preview: preview ? previewJpeg(seed, i, steps) : null,
        ...(inputs.progress_text === true && { text: `step ${i}/${steps}` }),
      });
      if (i === failAt) {
        throw new NodeFailure(`FakeSampler: deliberate failure at step ${i}`, 'RuntimeError', {
          file: '/opt/ComfyUI/custom_nodes/fake_sampler/__init__.py',
          line: 61,
          fn: 'sample',
          code: 'raise RuntimeError(f"FakeSampler: deliberate failure at step {i}")',
        });
      }
    }
    const w = num(inputs.width, 64);
    const h = num(inputs.height, 64);
    return {
      outputs: [
        { kind: 'IMAGE', width: w, height: h, batch: 1, fill: { kind: 'noise', seed }, inverted: false },
      ],
    };
  },
};
