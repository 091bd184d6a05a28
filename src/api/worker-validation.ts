/**
 * Checking a prompt against the workers' /object_info before it is stored,
 * shared by ComfyUI's `POST /prompt` and comfy-queue's `POST /api/pqueue/jobs`,
 * and converting a saved UI workflow with the same node definitions.
 */
import type { ObjectInfoMap, ValidationResult } from '../domain/prompt-graph.js';
import { validatePrompt } from '../domain/prompt-graph.js';
import { type ConversionResult, workflowToPrompt } from '../domain/workflow-to-prompt.js';
import { withModelsOf } from '../farm/capabilities.js';
import type { ComfyWorkers } from './comfy-workers.js';

/**
 * Validates against each known worker's object_info (one accepting is enough);
 * when all refuse, once more with fresh ones. Null when no worker's
 * object_info is known: the job is then checked at dispatch.
 */
export async function validateOnWorkers(
  workers: ComfyWorkers,
  prompt: unknown,
  targets: string[] | null,
): Promise<ValidationResult | null> {
  const attempt = (infos: { info: ObjectInfoMap }[]) => {
    let first: ValidationResult | null = null;
    for (const { info } of infos) {
      // A model no worker has yet is no reason to refuse: the job waits for a worker that has it.
      const r = validatePrompt(prompt, withModelsOf(info, prompt), targets);
      if (r.ok) return r;
      first ??= r;
    }
    return first;
  };
  const infos = await workers.current();
  if (infos.length === 0) return null;
  const r = attempt(infos);
  if (r?.ok) return r;
  // A combo list may have grown since (an upload): ask the workers again.
  const fresh = (
    await Promise.all(
      workers
        .all()
        .filter((w) => w.state === 'online')
        .map(async (w) => ({ info: await workers.refresh(w.id) })),
    )
  ).filter((x): x is { info: ObjectInfoMap } => x.info !== null);
  return fresh.length ? (attempt(fresh) ?? r) : r;
}

/**
 * Converts a UI workflow with the first worker's object_info that can (online
 * workers first); null when no worker's object_info is known.
 */
export async function convertOnWorkers(
  workers: ComfyWorkers | undefined,
  workflow: unknown,
): Promise<ConversionResult | null> {
  const infos = workers ? await workers.current() : [];
  let first: ConversionResult | null = null;
  for (const { info } of infos) {
    const r = workflowToPrompt(workflow, info);
    if (r.ok) return r;
    first ??= r;
  }
  return first;
}
