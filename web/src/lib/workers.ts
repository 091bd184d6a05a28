/** What the Workers screen shows of a farm worker, worked out from the API's answer. Pure. */
import type { FarmWorker, SystemDevice, Telemetry } from '../api/types.js';
import { bytes } from './format.js';

export interface Meter {
  name: string;
  percent: number | null;
  text: string;
}

/** ComfyUI's device name without its "cuda:0 " prefix and " : cudaMallocAsync" allocator suffix. */
export function gpuName(name: string): string {
  return name.replace(/^[a-z]+:\d+\s+/i, '').replace(/\s+:\s+\S+$/, '').trim() || name;
}

/** "a, b c" → ["a", "b", "c"]: tags typed into one field, split on commas and spaces, each once. */
export function parseTags(text: string): string[] {
  return [...new Set(text.split(/[\s,]+/).filter(Boolean))];
}

function used(total: number | null | undefined, free: number | null | undefined): Meter['percent'] {
  if (typeof total !== 'number' || typeof free !== 'number' || total <= 0) return null;
  return (100 * (total - free)) / total;
}

function meter(name: string, total: number | null | undefined, free: number | null | undefined): Meter {
  const pct = used(total, free);
  return {
    name,
    percent: pct,
    text: pct === null ? 'not reported' : `${bytes((total as number) - (free as number))} / ${bytes(total)}`,
  };
}

/**
 * A VRAM meter per GPU and one for RAM, from the worker's last /system_stats, else from the
 * telemetry poller's reading of the same worker; the CPU "device" ComfyUI lists has no VRAM to show.
 */
export function workerMeters(
  w: FarmWorker,
  telemetry: Telemetry['workers'][number] | null,
): { gpus: { label: string; full: string; vram: Meter }[]; ram: Meter | null; version: string | null } {
  const sys = w.system_stats?.system;
  const devices: SystemDevice[] = w.system_stats?.devices ?? telemetry?.devices ?? [];
  const gpus = devices
    .filter((d) => d.type !== 'cpu')
    .map((d, i) => ({
      label: d.name ? gpuName(d.name) : `GPU ${d.index ?? i}`,
      full: d.name,
      vram: meter(devices.length > 1 ? `VRAM ${d.index ?? i}` : 'VRAM', d.vram_total, d.vram_free),
    }));
  const ramTotal = sys?.ram_total ?? telemetry?.ram_total ?? null;
  const ramFree = sys?.ram_free ?? telemetry?.ram_free ?? null;
  return {
    gpus,
    ram: ramTotal === null ? null : meter('RAM', ramTotal, ramFree),
    version: sys?.comfyui_version ?? telemetry?.comfyui_version ?? null,
  };
}

/** "HH:MM" of a moment, for "quarantined until 14:05". */
export function hourMinute(at: number): string {
  return new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });
}

/** The share of the last hour a worker spent running jobs, as "35%". */
export function busyText(share: number): string {
  return `${Math.round(Math.min(1, Math.max(0, share)) * 100)}%`;
}

/** The mode buttons a worker offers in its state. */
export function modeActions(w: Pick<FarmWorker, 'mode'>): ('drain' | 'pause' | 'resume')[] {
  if (w.mode === 'active') return ['drain', 'pause'];
  return w.mode === 'draining' ? ['pause', 'resume'] : ['drain', 'resume'];
}
