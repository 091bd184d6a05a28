/**
 * A worker's figures from ComfyUI's GET /system_stats (comfyui-protocol.md):
 * RAM and, per device, VRAM. Pure; fields that are missing or of the wrong
 * type read as null, since older ComfyUI versions report fewer of them.
 */

export interface WorkerDevice {
  name: string;
  type: string;
  index: number | null;
  vramTotalBytes: number | null;
  vramFreeBytes: number | null;
}

export interface WorkerSystem {
  ramTotalBytes: number | null;
  ramFreeBytes: number | null;
  comfyuiVersion: string | null;
  devices: WorkerDevice[];
}

export function parseSystemStats(body: unknown): WorkerSystem {
  const o = record(body);
  const system = record(o.system);
  const devices = Array.isArray(o.devices) ? o.devices : [];
  return {
    ramTotalBytes: number(system.ram_total),
    ramFreeBytes: number(system.ram_free),
    comfyuiVersion: typeof system.comfyui_version === 'string' ? system.comfyui_version : null,
    devices: devices.map((d) => {
      const dev = record(d);
      return {
        name: typeof dev.name === 'string' ? dev.name : '',
        type: typeof dev.type === 'string' ? dev.type : '',
        index: number(dev.index),
        vramTotalBytes: number(dev.vram_total),
        vramFreeBytes: number(dev.vram_free),
      };
    }),
  };
}

function record(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function number(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}
