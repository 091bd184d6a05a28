/**
 * From what a client sends to the NewJob the store keeps: the UI workflow and
 * ComfyUI's extra_data are reconciled, and sensitive keys are set apart so
 * that they reach the worker but are never shown.
 */
import type { Job, NewJob, PromptGraph } from '../domain/job.js';

/** extra_data keys ComfyUI hides from /queue and /history (protocol §2.1). */
const SENSITIVE_KEYS = ['auth_token_comfy_org', 'api_key_comfy_org'];

export interface EnqueueInput {
  prompt: PromptGraph;
  workflow?: unknown;
  extraData?: Record<string, unknown>;
  name?: string | null;
  priority?: number;
  promptId?: string;
  clientId?: string | null;
  front?: boolean;
  /** explicit position (ComfyUI's `number`), see domain/comfy-number.ts */
  position?: number | null;
  targets?: string[] | null;
  requeuedFrom?: string | null;
  /** worker tags a worker must have to run it */
  requires?: string[];
}

export function buildNewJob(input: EnqueueInput, now: number, newId: () => string): NewJob {
  const extra: Record<string, unknown> = { ...(input.extraData ?? {}) };
  let sensitive: Record<string, unknown> | null = null;
  for (const key of SENSITIVE_KEYS) {
    if (key in extra) {
      sensitive ??= {};
      sensitive[key] = extra[key];
      delete extra[key];
    }
  }
  const pnginfo = isObject(extra.extra_pnginfo) ? { ...extra.extra_pnginfo } : null;
  let workflow = input.workflow ?? null;
  if (workflow === null && pnginfo && pnginfo.workflow !== undefined) workflow = pnginfo.workflow;
  if (workflow !== null) {
    // ComfyUI embeds extra_pnginfo in saved images: the workflow must travel there.
    extra.extra_pnginfo = { ...(pnginfo ?? {}), workflow };
  }
  extra.create_time = now;
  return {
    id: input.promptId ?? newId(),
    name: input.name ?? null,
    prompt: input.prompt,
    workflow,
    extraData: extra,
    sensitive,
    clientId: input.clientId ?? null,
    priority: input.priority ?? 0,
    front: input.front ?? false,
    position: input.position ?? null,
    createdAt: now,
    targets: input.targets ?? null,
    requeuedFrom: input.requeuedFrom ?? null,
    requires: input.requires ?? [],
  };
}

/** Seed-like inputs a requeue with `newSeed` replaces with a fresh random value. */
const SEED_INPUTS = ['seed', 'noise_seed'];

export function requeueInput(job: Job, opts: { newSeed?: boolean; priority?: number }): EnqueueInput {
  const prompt: PromptGraph = structuredClone(job.prompt);
  if (opts.newSeed) {
    for (const node of Object.values(prompt)) {
      for (const key of SEED_INPUTS) {
        if (typeof node.inputs[key] === 'number') node.inputs[key] = Math.floor(Math.random() * 2 ** 48);
      }
    }
  }
  const { create_time: _drop, ...extra } = job.extraData;
  return {
    prompt,
    workflow: job.workflow,
    extraData: { ...extra, ...(job.sensitive ?? {}) },
    name: job.name,
    priority: opts.priority ?? job.priority,
    clientId: job.clientId,
    targets: job.targets,
    requeuedFrom: job.id,
    requires: job.requires,
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}
