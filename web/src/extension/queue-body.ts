/**
 * The body ComfyUI's frontend posts to POST /prompt for `api.queuePrompt`
 * (comfyui-protocol.md §8.2), built here so that the same job reaches
 * comfy-queue: the graph, the workflow in extra_pnginfo, the client id, and
 * the placement (`number` -1 is "Queue (Front)").
 */

export interface QueueData {
  output: unknown;
  workflow: unknown;
}

export interface QueueOptions {
  partialExecutionTargets?: readonly string[];
  previewMethod?: string;
}

export interface Credentials {
  authToken?: string;
  apiKey?: string;
}

export function queuePromptBody(
  number: number,
  data: QueueData,
  options: QueueOptions | undefined,
  clientId: string,
  credentials: Credentials,
): Record<string, unknown> {
  const extraData: Record<string, unknown> = { extra_pnginfo: { workflow: data.workflow } };
  // Passed on for API nodes, as ComfyUI's own api does.
  if (credentials.authToken) extraData.auth_token_comfy_org = credentials.authToken;
  if (credentials.apiKey) extraData.api_key_comfy_org = credentials.apiKey;
  if (options?.previewMethod && options.previewMethod !== 'default')
    extraData.preview_method = options.previewMethod;
  const body: Record<string, unknown> = { client_id: clientId, prompt: data.output, extra_data: extraData };
  if (options?.partialExecutionTargets) body.partial_execution_targets = [...options.partialExecutionTargets];
  if (number === -1) body.front = true;
  else if (number !== 0) body.number = number;
  return body;
}

/** What a failed POST /prompt answered, as a message for a toast (ComfyUI's shape or comfy-queue's). */
export function failureMessage(status: number, body: unknown): string {
  const error = (body as { error?: unknown } | null)?.error;
  if (typeof error === 'string') return error;
  if (error && typeof error === 'object') {
    const e = error as { message?: unknown; details?: unknown; code?: unknown };
    const parts = [e.code, e.message, e.details].filter((p) => typeof p === 'string' && p);
    if (parts.length) return parts.join(': ');
  }
  return `HTTP ${status}`;
}
