/**
 * The Persistent Queue panel inside ComfyUI's web UI, as a frontend extension
 * (comfyui-protocol.md §8.4–8.6): a sidebar tab and an action-bar button, both
 * named "Persistent Queue", mounting the dashboard's components compactly.
 *
 * Served by comfy-queue at /extensions/comfy-queue/main.js, it talks to the
 * same origin. Loaded from the custom-node folder (ComfyUI opened directly),
 * it talks to the address in the setting ComfyQueue.Address.
 */
import type { ComfyApi, ComfyApp, ComfyExtension } from '@comfyorg/comfyui-frontend-types';
import css from '../styles/app.css?inline';
import { type Mounted, mountQueueUi } from '../mount.js';

declare global {
  interface Window {
    comfyAPI?: { app?: { app?: ComfyApp }; api?: { api?: ComfyApi } };
  }
}

export const TAB_ID = 'comfy-queue';
export const TITLE = 'Persistent Queue';
const ADDRESS_SETTING = 'ComfyQueue.Address';
const DEFAULT_ADDRESS = 'http://127.0.0.1:8189';
const TOGGLE = `Workspace.ToggleSidebarTab.${TAB_ID}`;

/** True when comfy-queue itself served this module (ComfyUI opened through comfy-queue). */
function servedByComfyQueue(): boolean {
  return new URL(import.meta.url).pathname.includes('/extensions/comfy-queue/');
}

function injectStyles(): void {
  if (document.getElementById('comfy-queue-styles')) return;
  const style = document.createElement('style');
  style.id = 'comfy-queue-styles';
  style.textContent = css;
  document.head.append(style);
}

function clientOptions(app: ComfyApp, api: ComfyApi | undefined) {
  if (!servedByComfyQueue()) {
    const address = app.extensionManager.setting.get(ADDRESS_SETTING as never) as unknown;
    return { base: typeof address === 'string' && address.trim() ? address.trim() : DEFAULT_ADDRESS };
  }
  // Same origin: ComfyUI's own fetchApi adds its api_base and user header.
  const viaApi: typeof fetch = (input, init) => {
    const url = String(input);
    return api && url.startsWith('/api/') ? api.fetchApi(url.slice(4), init) : fetch(input, init);
  };
  return { base: '', fetch: viaApi };
}

function register(app: ComfyApp, api: ComfyApi | undefined): void {
  let mounted: Mounted | null = null;
  const toggle = () => void app.extensionManager.command.execute(TOGGLE);
  const extension: ComfyExtension = {
    name: 'ComfyQueue.PersistentQueue',
    commands: [{ id: 'ComfyQueue.TogglePanel', label: TITLE, icon: 'pi pi-list', function: toggle }],
    menuCommands: [{ path: ['Extensions', TITLE], commands: ['ComfyQueue.TogglePanel'] }],
    actionBarButtons: [{ icon: 'pi pi-list', label: TITLE, tooltip: 'Open the persistent queue', onClick: toggle }],
    settings: servedByComfyQueue()
      ? []
      : [
          {
            id: ADDRESS_SETTING,
            name: 'comfy-queue address',
            type: 'text',
            defaultValue: DEFAULT_ADDRESS,
            tooltip: 'Where the Persistent Queue panel finds comfy-queue when ComfyUI is opened directly',
            category: [TITLE, 'Connection', 'Address'],
          } as NonNullable<ComfyExtension['settings']>[number],
        ],
    setup() {
      injectStyles();
      app.extensionManager.registerSidebarTab({
        id: TAB_ID,
        title: TITLE,
        icon: 'pi pi-list',
        tooltip: TITLE,
        type: 'custom',
        render(el: HTMLElement) {
          mounted?.unmount();
          const host = document.createElement('div');
          host.style.height = '100%';
          el.replaceChildren(host);
          mounted = mountQueueUi(host, { ...clientOptions(app, api), compact: true });
        },
        destroy() {
          mounted?.unmount();
          mounted = null;
        },
      });
    },
  };
  app.registerExtension(extension);
}

const app = window.comfyAPI?.app?.app;
if (app) register(app, window.comfyAPI?.api?.api);
else console.warn('comfy-queue: window.comfyAPI.app.app is missing; the Persistent Queue panel is not registered');
