/**
 * The header's GPU gauges: the host's own GPUs (nvidia-smi) when it has any,
 * and every worker's GPUs as its ComfyUI reports them in /system_stats (VRAM;
 * ComfyUI does not report utilization). Pure.
 */
import type { Telemetry } from '../api/types.js';

export interface GpuGauge {
  key: string;
  /** "GPU", or the worker's name */
  label: string;
  /** utilization, when known */
  utilization: number | null;
  vramPercent: number | null;
  vramUsed: number | null;
  vramTotal: number | null;
  device: string;
  stale: boolean;
}

export function gpuGauges(t: Telemetry | null): GpuGauge[] {
  if (!t) return [];
  const out: GpuGauge[] = t.host.gpus.map((g) => ({
    key: `host-${g.index}`,
    label: t.host.gpus.length > 1 ? `GPU${g.index}` : 'GPU',
    utilization: g.utilization_percent,
    vramPercent: g.vram_percent,
    vramUsed: g.vram_used,
    vramTotal: g.vram_total,
    device: g.name,
    stale: false,
  }));
  for (const w of t.workers) {
    const gpus = w.devices.filter((d) => d.type !== 'cpu');
    gpus.forEach((d, i) => {
      const used = d.vram_total !== null && d.vram_free !== null ? d.vram_total - d.vram_free : null;
      out.push({
        key: `${w.id}-${d.index ?? i}`,
        label: gpus.length > 1 ? `${w.id}:${d.index ?? i}` : w.id,
        utilization: null,
        vramPercent: used !== null && d.vram_total ? (100 * used) / d.vram_total : null,
        vramUsed: used,
        vramTotal: d.vram_total,
        device: d.name,
        stale: !w.fresh || w.state !== 'online',
      });
    });
  }
  return out;
}
