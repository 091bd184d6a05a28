/** Mounts the UI into an element: the dashboard page and the ComfyUI panel both go through here. */
import { createApp, h } from 'vue';
import { type ClientOptions, QueueClient } from './api/client.js';
import QueueApp from './components/QueueApp.vue';
import { type OpenWorkflow, provideQueue } from './lib/context.js';
import { createQueueStore } from './state/queue-store.js';

export interface MountOptions extends ClientOptions {
  compact?: boolean;
  pollMs?: number;
  /** inside ComfyUI: how a job's workflow is opened on its canvas */
  openWorkflow?: OpenWorkflow;
}

export interface Mounted {
  unmount(): void;
}

export function mountQueueUi(el: Element, opts: MountOptions = {}): Mounted {
  const client = new QueueClient(opts);
  const store = createQueueStore(client, { pollMs: opts.pollMs });
  const app = createApp({
    setup() {
      provideQueue({
        client,
        store,
        compact: opts.compact ?? false,
        ...(opts.openWorkflow ? { openWorkflow: opts.openWorkflow } : {}),
      });
      return () => h(QueueApp);
    },
  });
  app.mount(el);
  store.start();
  return {
    unmount() {
      store.stop();
      app.unmount();
    },
  };
}
