/**
 * The Persistent Queue panel inside ComfyUI's web UI, as a frontend extension
 * (comfyui-protocol.md §8.4–8.6): a sidebar tab and an action-bar button, both
 * named "Persistent Queue", mounting the dashboard's components compactly.
 *
 * Served by comfy-queue at /extensions/comfy-queue/main.js, it talks to the
 * same origin. Loaded from the custom-node folder (ComfyUI opened directly),
 * it talks to the address in the setting ComfyQueue.Address, and (unless the
 * setting ComfyQueue.QueueToComfyQueue is off) sends ComfyUI's queue actions
 * there too, relaying their events back to the canvas (direct-queue.ts).
 */
import type { ComfyApi, ComfyApp, ComfyExtension } from '@comfyorg/comfyui-frontend-types';
import css from '../styles/app.css?inline';
import { type Mounted, mountQueueUi } from '../mount.js';
import { type DirectQueue, setupDirectQueue } from './direct-queue.js';

declare global {
  interface Window {
    comfyAPI?: {
      app?: { app?: ComfyApp };
      api?: { api?: ComfyApi; PromptExecutionError?: new (response: unknown) => Error };
    };
  }
}

export const TAB_ID = 'comfy-queue';
export const TITLE = 'Persistent Queue';
const ADDRESS_SETTING = 'ComfyQueue.Address';
const TOKEN_SETTING = 'ComfyQueue.Token';
const REDIRECT_SETTING = 'ComfyQueue.QueueToComfyQueue';
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

function textSetting(app: ComfyApp, id: string): string {
  const v = app.extensionManager.setting.get(id as never) as unknown;
  return typeof v === 'string' ? v.trim() : '';
}

function address(app: ComfyApp): string {
  return (textSetting(app, ADDRESS_SETTING) || DEFAULT_ADDRESS).replace(/\/+$/, '');
}

function clientOptions(app: ComfyApp, api: ComfyApi | undefined) {
  if (!servedByComfyQueue()) return { base: address(app), token: textSetting(app, TOKEN_SETTING) || null };
  // Same origin: ComfyUI's own fetchApi adds its api_base and user header.
  const viaApi: typeof fetch = (input, init) => {
    const url = String(input);
    return api && url.startsWith('/api/') ? api.fetchApi(url.slice(4), init) : fetch(input, init);
  };
  return { base: '', fetch: viaApi };
}

type Setting = NonNullable<ComfyExtension['settings']>[number];

/** The settings of the custom-node panel (ComfyUI opened directly). */
function directSettings(onChange: () => void): Setting[] {
  return [
    {
      id: ADDRESS_SETTING,
      name: 'comfy-queue address',
      type: 'text',
      defaultValue: DEFAULT_ADDRESS,
      tooltip: 'Where the Persistent Queue panel finds comfy-queue when ComfyUI is opened directly',
      category: [TITLE, 'Connection', 'Address'],
      onChange,
    },
    {
      id: TOKEN_SETTING,
      name: 'comfy-queue token',
      type: 'text',
      defaultValue: '',
      tooltip: 'The token comfy-queue was started with (--token), if any',
      category: [TITLE, 'Connection', 'Token'],
      onChange,
    },
    {
      id: REDIRECT_SETTING,
      name: 'Queue to comfy-queue',
      type: 'boolean',
      defaultValue: true,
      tooltip:
        'The Queue button (and Queue Front, batch count, the shortcut) sends jobs to comfy-queue, where they survive restarts. Off: jobs go to this ComfyUI itself.',
      category: [TITLE, 'Queue', 'Queue to comfy-queue'],
      onChange,
    },
  ] as Setting[];
}

/** The sidebar tab as ComfyUI's store holds it (reactive there), so that a new badge shows. */
function setTabBadge(app: ComfyApp, own: { iconBadge?: string }, text: string | null): void {
  own.iconBadge = text ?? undefined;
  const manager = app.extensionManager as { getSidebarTabs?: () => { id: string; iconBadge?: unknown }[] };
  const held = manager.getSidebarTabs?.().find((t) => t.id === TAB_ID);
  if (held && held !== own) held.iconBadge = text ?? undefined;
}

function register(app: ComfyApp, api: ComfyApi | undefined): void {
  let mounted: Mounted | null = null;
  let direct: DirectQueue | null = null;
  const toggle = () => void app.extensionManager.command.execute(TOGGLE);
  const tab = {
    id: TAB_ID,
    title: TITLE,
    icon: 'pi pi-list',
    tooltip: TITLE,
    type: 'custom' as const,
    iconBadge: undefined as string | undefined,
    render(el: HTMLElement) {
      mounted?.unmount();
      const host = document.createElement('div');
      host.style.height = '100%';
      el.replaceChildren(host);
      mounted = mountQueueUi(host, {
        ...clientOptions(app, api),
        compact: true,
        openWorkflow: (workflow, kind, name) =>
          kind === 'ui' ? app.loadGraphData(workflow as never) : app.loadApiJson(workflow as never, name),
      });
    },
    destroy() {
      mounted?.unmount();
      mounted = null;
    },
  };
  const extension: ComfyExtension = {
    name: 'ComfyQueue.PersistentQueue',
    commands: [{ id: 'ComfyQueue.TogglePanel', label: TITLE, icon: 'pi pi-list', function: toggle }],
    menuCommands: [{ path: ['Extensions', TITLE], commands: ['ComfyQueue.TogglePanel'] }],
    actionBarButtons: [{ icon: 'pi pi-list', label: TITLE, tooltip: 'Open the persistent queue', onClick: toggle }],
    settings: servedByComfyQueue() ? [] : directSettings(() => direct?.apply()),
    setup() {
      injectStyles();
      app.extensionManager.registerSidebarTab(tab);
      // Opened through comfy-queue, ComfyUI's own queue calls already reach comfy-queue.
      if (servedByComfyQueue() || !api) return;
      direct = setupDirectQueue(app, api, {
        enabled: () => app.extensionManager.setting.get(REDIRECT_SETTING as never) !== false,
        base: () => address(app),
        token: () => textSetting(app, TOKEN_SETTING) || null,
        badge: (text) => setTabBadge(app, tab, text),
      });
      direct.apply();
    },
  };
  app.registerExtension(extension);
}

const app = window.comfyAPI?.app?.app;
if (app) register(app, window.comfyAPI?.api?.api);
else console.warn('comfy-queue: window.comfyAPI.app.app is missing; the Persistent Queue panel is not registered');
