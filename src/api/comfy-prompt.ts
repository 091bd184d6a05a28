/**
 * POST /prompt as ComfyUI answers it (comfyui-protocol.md §2.1–2.2): the
 * graph is validated against a worker's object_info before it is stored, and
 * refused with ComfyUI's error shape and status. With no worker answering
 * and nothing cached, the job is stored unvalidated: the queue outlives its
 * workers, and pending jobs are re-checked when a worker connects.
 */
import { comfyNumber, placementFor } from '../domain/comfy-number.js';
import { QueueError } from '../domain/errors.js';
import { isCanonicalUuid } from '../domain/ids.js';
import type { PromptGraph } from '../domain/job.js';
import { invalidPromptIdError, type NodeErrors, noPromptError } from '../domain/prompt-graph.js';
import type { Engine } from '../engine/engine.js';
import type { ComfyWorkers } from './comfy-workers.js';
import { validateOnWorkers } from './worker-validation.js';

export type ComfyAnswer = { status: number; body: unknown };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function comfyError(type: string, message: string, details: string): ComfyAnswer {
  return { status: 400, body: { error: { type, message, details, extra_info: {} }, node_errors: {} } };
}

export async function postPrompt(
  engine: Engine,
  workers: ComfyWorkers,
  raw: unknown,
  usageSource: string | undefined,
): Promise<ComfyAnswer> {
  const body = isObject(raw) ? raw : {};
  let number: number | null = null;
  if ('number' in body && body.number !== null && body.number !== undefined) {
    number =
      typeof body.number === 'number' || typeof body.number === 'string' ? Number(body.number) : Number.NaN;
    if (!Number.isFinite(number))
      return comfyError('invalid_number', 'number must be a number', String(body.number));
  }
  if (!('prompt' in body)) return { status: 400, body: noPromptError() };
  const pid = body.prompt_id;
  if (pid !== undefined && pid !== null && !isCanonicalUuid(pid))
    return { status: 400, body: invalidPromptIdError() };
  const targets = Array.isArray(body.partial_execution_targets)
    ? body.partial_execution_targets.map(String)
    : null;

  const checked = await validateOnWorkers(workers, body.prompt, targets);
  if (checked && !checked.ok) return { status: checked.status, body: checked.body };
  if (!checked && !isValidShape(body.prompt)) {
    return comfyError(
      'invalid_prompt',
      'Invalid prompt',
      'prompt must be an object of nodes with a class_type',
    );
  }
  const prompt = (checked?.ok ? checked.prompt : body.prompt) as PromptGraph;
  const nodeErrors: NodeErrors = checked?.ok ? checked.nodeErrors : {};

  const extraData: Record<string, unknown> = isObject(body.extra_data) ? { ...body.extra_data } : {};
  const given = 'client_id' in body ? body.client_id : extraData.client_id;
  const clientId = typeof given === 'string' && given ? given : null;
  delete extraData.client_id; // kept as the job's clientId, shown again in extra_data
  if (usageSource && !('comfy_usage_source' in extraData)) extraData.comfy_usage_source = usageSource;
  const front = body.front === true || body.front === 1;
  const top = front ? ((await engine.store.listPending(1))[0]?.priority ?? null) : null;
  const place = placementFor({ number, front }, top);
  const partial = checked?.ok && Object.keys(nodeErrors).length > 0 ? checked.outputs : null;
  try {
    const job = await engine.enqueue({
      prompt,
      extraData,
      promptId: typeof pid === 'string' ? pid : undefined,
      clientId,
      priority: place.priority,
      front: place.front,
      position: place.position,
      targets: targets ?? partial,
    });
    return { status: 200, body: { prompt_id: job.id, number: comfyNumber(job), node_errors: nodeErrors } };
  } catch (err) {
    if (err instanceof QueueError && err.code === 'DUPLICATE_ID') {
      return comfyError(
        'duplicate_prompt_id',
        'prompt_id is already in use',
        `comfy-queue already has a job with prompt_id ${String(pid)}; omit prompt_id to let the server generate one`,
      );
    }
    throw err;
  }
}

function isValidShape(prompt: unknown): boolean {
  if (!isObject(prompt) || Object.keys(prompt).length === 0) return false;
  return Object.values(prompt).every((n) => isObject(n) && typeof n.class_type === 'string');
}
