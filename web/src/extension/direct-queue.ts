/**
 * The wiring of the Queue button to comfy-queue in a ComfyUI opened directly:
 * the relay socket to comfy-queue's /ws (events back onto the canvas), the
 * wrapped `api.queuePrompt`, and what the user sees when comfy-queue cannot
 * be reached: a toast at once and a badge on the panel's sidebar tab.
 */
import type { ComfyApi, ComfyApp } from '@comfyorg/comfyui-frontend-types';
import type { ApiEvent } from './comfy-events.js';
import { type QueueApi, redirectQueue } from './queue-redirect.js';
import { ComfyQueueRelay, type Reachability } from './relay.js';

export interface DirectQueueOptions {
  enabled: () => boolean;
  base: () => string;
  token: () => string | null;
  /** sets the panel button's badge, or clears it with null */
  badge: (text: string | null) => void;
}

export interface DirectQueue {
  /** follows the settings: connects when on, disconnects (and stops redirecting) when off */
  apply(): void;
}

const UNREACHABLE_BADGE = '!';

export function setupDirectQueue(app: ComfyApp, api: ComfyApi, opts: DirectQueueOptions): DirectQueue {
  let fallbackClientId: string | null = null;
  const clientId = (): string => {
    // ComfyUI's socket reuses window.name as its clientId until the server's sid arrives.
    const known = api.clientId || globalThis.window?.name;
    if (known) return known;
    fallbackClientId ??= crypto.randomUUID().replaceAll('-', '');
    return fallbackClientId;
  };
  const toast = (severity: 'error' | 'info', summary: string, detail: string) => {
    try {
      app.extensionManager.toast.add({ severity, summary, detail, life: severity === 'error' ? 10_000 : 4_000 });
    } catch (err) {
      console.error('comfy-queue:', summary, detail, err);
    }
  };
  const origin = globalThis.location?.origin ?? 'this page';
  const unreachableHelp = (base: string) =>
    `Is comfy-queue running at ${base}, started with --allow-origin ${origin}? ` +
    'To queue on this ComfyUI instead, turn off Settings → Persistent Queue → Queue → "Queue to comfy-queue".';

  let last: Reachability = 'unknown';
  // While a queue action runs, its own failure toast says it all.
  let attempts = 0;
  let attemptFailed = false;
  const relay = new ComfyQueueRelay({
    url: (id) => wsUrl(opts.base(), id, opts.token()),
    dispatch: (event: ApiEvent) => dispatch(api, event),
    state: (state) => {
      const before = last;
      last = state;
      opts.badge(state === 'unreachable' ? UNREACHABLE_BADGE : null);
      if (state === 'unreachable' && before !== 'unreachable' && attempts === 0)
        toast('error', 'comfy-queue cannot be reached', `Jobs cannot be queued. ${unreachableHelp(opts.base())}`);
      if (state === 'reachable' && before === 'unreachable')
        toast('info', 'comfy-queue is reachable again', `Queued jobs go to ${opts.base()}.`);
    },
  });

  const PromptError = window.comfyAPI?.api?.PromptExecutionError;
  redirectQueue(api as unknown as QueueApi, {
    enabled: opts.enabled,
    base: opts.base,
    token: opts.token,
    clientId,
    relay,
    attempt: (active) => {
      attempts += active ? 1 : -1;
      if (active) attemptFailed = false;
      // A job went through (the badge of a refused POST, e.g. an origin not allowed, goes too).
      else if (!attemptFailed && relay.reachability === 'reachable') opts.badge(null);
    },
    promptError: (response) => (PromptError ? new PromptError(response) : new QueueRefused(response)),
    failed: (reason, message) => {
      attemptFailed = true;
      if (reason === 'unreachable') {
        opts.badge(UNREACHABLE_BADGE);
        toast('error', 'comfy-queue cannot be reached', `Nothing was queued. ${unreachableHelp(opts.base())}`);
        return new Error(`comfy-queue cannot be reached: ${message}`);
      }
      toast('error', 'comfy-queue refused the job', message);
      return new Error(`comfy-queue refused the job: ${message}`);
    },
  });

  // ComfyUI learns its clientId from its socket's first status: follow it.
  api.addEventListener('status', () => {
    if (opts.enabled()) relay.start(clientId());
  });

  return {
    apply() {
      if (opts.enabled()) relay.start(clientId());
      else {
        relay.stop();
        opts.badge(null);
      }
    },
  };
}

/** comfy-queue's ComfyUI-compatible /ws for this page's client id. */
function wsUrl(base: string, clientId: string, token: string | null): string {
  const u = new URL(`${base.replace(/\/+$/, '')}/ws`, globalThis.location?.href);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.searchParams.set('clientId', clientId);
  if (token) u.searchParams.set('token', token);
  return u.toString();
}

/** Dispatches as ComfyUI's own socket handler does (dispatchCustomEvent where the api has it). */
function dispatch(api: ComfyApi, [type, detail]: ApiEvent): void {
  const target = api as unknown as {
    dispatchCustomEvent?: (type: string, detail?: unknown) => boolean;
    dispatchEvent: (event: Event) => boolean;
  };
  try {
    if (typeof target.dispatchCustomEvent === 'function') target.dispatchCustomEvent(type, detail);
    else target.dispatchEvent(new CustomEvent(type, { detail }));
  } catch (err) {
    console.error(`comfy-queue: a listener of the ${type} event failed`, err);
  }
}

/** Stands in for ComfyUI's PromptExecutionError where the frontend does not expose it. */
class QueueRefused extends Error {
  constructor(readonly response: unknown) {
    super('Prompt execution failed');
  }
  override toString(): string {
    return JSON.stringify(this.response);
  }
}
