/**
 * ComfyUI opened directly: its frontend calls `api.queuePrompt(number,
 * {output, workflow}, options)` for every queue action (the Queue button,
 * "Queue (Front)", each run of a batch count, the keyboard shortcut), so
 * wrapping that one method sends them all to comfy-queue's POST /prompt
 * instead, where they are durable. When comfy-queue cannot be reached the
 * call fails (ComfyUI shows the error): a job is never sent elsewhere behind
 * the user's back.
 */
import { type Credentials, failureMessage, type QueueData, type QueueOptions, queuePromptBody } from './queue-body.js';
import type { ComfyQueueRelay } from './relay.js';

export type QueuePrompt = (number: number, data: QueueData, options?: QueueOptions) => Promise<unknown>;

/** The part of ComfyUI's `api` this uses. */
export interface QueueApi extends Credentials {
  queuePrompt: QueuePrompt;
}

export interface RedirectOptions {
  /** the setting: off sends jobs to ComfyUI itself, as without comfy-queue */
  enabled: () => boolean;
  /** comfy-queue's address, e.g. http://127.0.0.1:8189 */
  base: () => string;
  token: () => string | null;
  /** the page's client id, which comfy-queue's relay addresses its events to */
  clientId: () => string;
  relay: ComfyQueueRelay;
  /** ComfyUI's PromptExecutionError, so that node errors are drawn on the canvas */
  promptError: (response: unknown) => Error;
  /** shows the failure (toast, badge) and gives the error to throw */
  failed: (reason: 'unreachable' | 'refused', message: string) => Error;
  /** told when a redirected call starts (true) and ends (false) */
  attempt?: (active: boolean) => void;
}

/** Wraps `api.queuePrompt`; returns a function that puts the original back. */
export function redirectQueue(api: QueueApi, opts: RedirectOptions): () => void {
  const original = api.queuePrompt;
  const wrapped: QueuePrompt = async (number, data, options) => {
    if (!opts.enabled()) return original.call(api, number, data, options);
    opts.attempt?.(true);
    try {
      return await send(number, data, options);
    } finally {
      opts.attempt?.(false);
    }
  };
  const send: QueuePrompt = async (number, data, options) => {
    const base = opts.base().replace(/\/+$/, '');
    const clientId = opts.clientId();
    try {
      // Open first: comfy-queue only relays to sockets connected when the events happen.
      await opts.relay.ready(clientId);
    } catch (err) {
      throw opts.failed('unreachable', `${base}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const token = opts.token();
    if (token) headers.authorization = `Bearer ${token}`;
    let res: Response;
    try {
      res = await fetch(`${base}/api/prompt`, {
        method: 'POST',
        headers,
        cache: 'no-store',
        body: JSON.stringify(
          queuePromptBody(number, data, options, clientId, { authToken: api.authToken, apiKey: api.apiKey }),
        ),
      });
    } catch (err) {
      throw opts.failed('unreachable', `${base}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const text = await res.text();
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    if (res.status === 200) return body;
    // ComfyUI's validation shape (node_errors): ComfyUI draws it on the canvas.
    if (body && typeof body === 'object' && 'node_errors' in body) throw opts.promptError(body);
    throw opts.failed('refused', failureMessage(res.status, body));
  };
  api.queuePrompt = wrapped;
  return () => {
    if (api.queuePrompt === wrapped) api.queuePrompt = original;
  };
}
