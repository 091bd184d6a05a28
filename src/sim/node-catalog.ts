/**
 * The node classes the simulator knows, as `GET /object_info` reports them.
 * Inputs, types, defaults, categories and output_node flags follow ComfyUI's
 * nodes.py; FakeSampler is the test node of comfyui-transcripts/ (its entry is
 * 01_object_info_FakeSampler.json).
 */
import type { InputSpec, NodeInfo, ObjectInfoMap } from '../domain/prompt-graph.js';

const MAX_RESOLUTION = 16384;
/** 0xffffffffffffffff: a JS number cannot hold it; `objectInfoJson` restores the exact digits. */
export const SEED_MAX = Number(2n ** 64n - 1n);

export const CHECKPOINTS = [
  'sd_xl_base_1.0.safetensors',
  'v1-5-pruned-emaonly-fp16.safetensors',
  'v1-5-pruned-emaonly.safetensors',
];

export const SAMPLERS = [
  'euler',
  'euler_cfg_pp',
  'euler_ancestral',
  'euler_ancestral_cfg_pp',
  'heun',
  'heunpp2',
  'dpm_2',
  'dpm_2_ancestral',
  'lms',
  'dpm_fast',
  'dpm_adaptive',
  'dpmpp_2s_ancestral',
  'dpmpp_2s_ancestral_cfg_pp',
  'dpmpp_sde',
  'dpmpp_sde_gpu',
  'dpmpp_2m',
  'dpmpp_2m_cfg_pp',
  'dpmpp_2m_sde',
  'dpmpp_2m_sde_gpu',
  'dpmpp_3m_sde',
  'dpmpp_3m_sde_gpu',
  'ddpm',
  'lcm',
  'ipndm',
  'ipndm_v',
  'deis',
  'res_multistep',
  'res_multistep_cfg_pp',
  'gradient_estimation',
  'er_sde',
  'ddim',
  'uni_pc',
  'uni_pc_bh2',
];

export const SCHEDULERS = [
  'simple',
  'sgm_uniform',
  'karras',
  'exponential',
  'ddim_uniform',
  'beta',
  'normal',
  'linear_quadratic',
  'kl_optimal',
];

interface Def {
  required?: Record<string, InputSpec>;
  optional?: Record<string, InputSpec>;
  hidden?: Record<string, string>;
  output?: string[];
  outputName?: string[];
  display: string;
  description?: string;
  category: string;
  module?: string;
  outputNode?: boolean;
  extra?: Record<string, unknown>;
}

function node(name: string, d: Def): NodeInfo {
  const order: Record<string, string[]> = {};
  for (const k of ['required', 'optional', 'hidden'] as const) {
    if (d[k]) order[k] = Object.keys(d[k]);
  }
  const output = d.output ?? [];
  return {
    input: {
      required: d.required ?? {},
      ...(d.optional && { optional: d.optional }),
      ...(d.hidden && { hidden: d.hidden }),
    },
    input_order: order,
    is_input_list: false,
    output,
    output_is_list: output.map(() => false),
    output_name: d.outputName ?? output,
    name,
    display_name: d.display,
    description: d.description ?? '',
    python_module: d.module ?? 'nodes',
    category: d.category,
    output_node: d.outputNode ?? false,
    has_intermediate_output: false,
    search_aliases: [],
    ...d.extra,
  };
}

const imageSaveHidden = { prompt: 'PROMPT', extra_pnginfo: 'EXTRA_PNGINFO' };
const wh = (dflt: number, min: number, step: number): InputSpec => [
  'INT',
  { default: dflt, min, max: MAX_RESOLUTION, step },
];

/** Static classes. LoadImage depends on the uploaded files: see `buildObjectInfo`. */
const STATIC: ObjectInfoMap = {
  CheckpointLoaderSimple: node('CheckpointLoaderSimple', {
    required: { ckpt_name: [CHECKPOINTS, { tooltip: 'The name of the checkpoint (model) to load.' }] },
    output: ['MODEL', 'CLIP', 'VAE'],
    display: 'Load Checkpoint',
    description: 'Loads a diffusion model checkpoint, diffusion models are used to denoise latents.',
    category: 'loaders',
  }),
  CLIPTextEncode: node('CLIPTextEncode', {
    required: {
      text: ['STRING', { multiline: true, dynamicPrompts: true, tooltip: 'The text to be encoded.' }],
      clip: ['CLIP', { tooltip: 'The CLIP model used for encoding the text.' }],
    },
    output: ['CONDITIONING'],
    display: 'CLIP Text Encode (Prompt)',
    description:
      'Encodes a text prompt using a CLIP model into an embedding that can be used to guide the diffusion model towards generating specific images.',
    category: 'conditioning',
  }),
  EmptyLatentImage: node('EmptyLatentImage', {
    required: {
      width: wh(512, 16, 8),
      height: wh(512, 16, 8),
      batch_size: ['INT', { default: 1, min: 1, max: 4096 }],
    },
    output: ['LATENT'],
    display: 'Empty Latent Image',
    description: 'Create a new batch of empty latent images to be denoised via sampling.',
    category: 'latent',
  }),
  KSampler: node('KSampler', {
    required: {
      model: ['MODEL', {}],
      seed: ['INT', { default: 0, min: 0, max: SEED_MAX, control_after_generate: true }],
      steps: ['INT', { default: 20, min: 1, max: 10000 }],
      cfg: ['FLOAT', { default: 8.0, min: 0.0, max: 100.0, step: 0.1, round: 0.01 }],
      sampler_name: [SAMPLERS, {}],
      scheduler: [SCHEDULERS, {}],
      positive: ['CONDITIONING', {}],
      negative: ['CONDITIONING', {}],
      latent_image: ['LATENT', {}],
      denoise: ['FLOAT', { default: 1.0, min: 0.0, max: 1.0, step: 0.01 }],
    },
    output: ['LATENT'],
    display: 'KSampler',
    description: 'Uses the provided model, positive and negative conditioning to denoise the latent image.',
    category: 'sampling',
  }),
  VAEDecode: node('VAEDecode', {
    required: { samples: ['LATENT', {}], vae: ['VAE', {}] },
    output: ['IMAGE'],
    display: 'VAE Decode',
    description: 'Decodes latent images back into pixel space images.',
    category: 'latent',
  }),
  SaveImage: node('SaveImage', {
    required: {
      images: ['IMAGE', { tooltip: 'The images to save.' }],
      filename_prefix: ['STRING', { default: 'ComfyUI', tooltip: 'The prefix for the file to save.' }],
    },
    hidden: imageSaveHidden,
    display: 'Save Image',
    description: 'Saves the input images to your ComfyUI output directory.',
    category: 'image',
    outputNode: true,
  }),
  PreviewImage: node('PreviewImage', {
    required: { images: ['IMAGE', {}] },
    hidden: imageSaveHidden,
    display: 'Preview Image',
    description: 'Saves the input images to your ComfyUI output directory.',
    category: 'image',
    outputNode: true,
  }),
  EmptyImage: node('EmptyImage', {
    required: {
      width: wh(512, 1, 1),
      height: wh(512, 1, 1),
      batch_size: ['INT', { default: 1, min: 1, max: 4096 }],
      color: ['INT', { default: 0, min: 0, max: 0xffffff, step: 1, display: 'color' }],
    },
    output: ['IMAGE'],
    display: 'EmptyImage',
    category: 'image',
  }),
  ImageInvert: node('ImageInvert', {
    required: { image: ['IMAGE', {}] },
    output: ['IMAGE'],
    display: 'Invert Image',
    category: 'image',
  }),
  FakeSampler: node('FakeSampler', {
    required: {
      seed: ['INT', { default: 0, min: 0, max: SEED_MAX }],
      steps: ['INT', { default: 10, min: 1, max: 10000 }],
      width: ['INT', { default: 64, min: 8, max: 4096, step: 8 }],
      height: ['INT', { default: 64, min: 8, max: 4096, step: 8 }],
    },
    optional: {
      step_seconds: ['FLOAT', { default: 0.1, min: 0.0, max: 10.0, step: 0.01 }],
      preview: ['BOOLEAN', { default: true }],
      fail_at_step: ['INT', { default: -1, min: -1, max: 10000 }],
      progress_text: ['BOOLEAN', { default: false }],
    },
    hidden: { unique_id: 'UNIQUE_ID' },
    output: ['IMAGE'],
    outputName: ['image'],
    display: 'Fake Sampler (no model)',
    description: 'Model-free fake sampler: sleeps per step, reports progress and previews.',
    category: 'testing/fake',
    module: 'custom_nodes.fake_sampler',
  }),
};

/** The full object_info map; `inputFiles` are the uploaded images LoadImage offers. */
export function buildObjectInfo(inputFiles: readonly string[]): ObjectInfoMap {
  return {
    ...STATIC,
    LoadImage: node('LoadImage', {
      required: { image: [[...inputFiles].sort(), { image_upload: true }] },
      output: ['IMAGE', 'MASK'],
      display: 'Load Image',
      category: 'image',
    }),
  };
}

/** JSON of object_info with the exact 64-bit seed maximum that ComfyUI sends. */
export function objectInfoJson(map: ObjectInfoMap | Record<string, never>): string {
  return JSON.stringify(map).replaceAll(`:${String(SEED_MAX)}`, ':18446744073709551615');
}
