/** The client and the live store, handed to every component of a mounted app (dashboard or panel). */
import { inject, type InjectionKey, provide } from 'vue';
import type { QueueClient } from '../api/client.js';
import type { QueueStore } from '../state/queue-store.js';

export interface QueueContext {
  client: QueueClient;
  store: QueueStore;
  /** true inside ComfyUI's sidebar: a narrow, compact layout */
  compact: boolean;
  /** inside ComfyUI: opens a workflow on its canvas (a UI workflow, or an API prompt) */
  openWorkflow?: OpenWorkflow;
}

export type OpenWorkflow = (workflow: unknown, kind: 'ui' | 'api', name: string) => void | Promise<void>;

const KEY: InjectionKey<QueueContext> = Symbol('comfy-queue');

export function provideQueue(ctx: QueueContext): void {
  provide(KEY, ctx);
}

export function useQueue(): QueueContext {
  const ctx = inject(KEY);
  if (!ctx) throw new Error('useQueue() outside a comfy-queue app');
  return ctx;
}
