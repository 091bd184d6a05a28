/**
 * GET /api/admin/telemetry and the event websocket's `telemetry` message: the
 * host (HostSampler) and, per worker, what its /system_stats reports. Reads
 * that overlap share one sampling, so a poller and the websocket's timer do
 * not double the work.
 */
import type { Logger } from '../logging/logger.js';
import { type HostReading, HostSampler, type HostSamplerOptions } from './host-sampler.js';
import { parseSystemStats, type WorkerSystem } from './system-stats.js';

/** What the telemetry needs of a worker; the WorkerDriver has it. */
export interface TelemetryWorker {
  readonly id: string;
  readonly url: string;
  readonly state: string;
  /** the last /system_stats the driver read (on connect) */
  readonly systemStats: Record<string, unknown> | null;
  readonly client: { systemStats(): Promise<Record<string, unknown>> };
}

export interface TelemetryJson {
  at: number;
  host: {
    cpu: { percent: number | null; cores: number };
    ram: { total: number; used: number; percent: number };
    disk: { path: string; total: number; free: number; used: number; percent: number } | null;
    gpus: {
      index: number;
      name: string;
      utilization_percent: number | null;
      vram_total: number | null;
      vram_used: number | null;
      vram_percent: number | null;
    }[];
  };
  workers: {
    id: string;
    url: string;
    state: string;
    /** false when this reading's /system_stats failed; the figures are then the last known ones, if any */
    fresh: boolean;
    error: string | null;
    ram_total: number | null;
    ram_free: number | null;
    comfyui_version: string | null;
    devices: {
      name: string;
      type: string;
      index: number | null;
      vram_total: number | null;
      vram_free: number | null;
    }[];
  }[];
}

export interface TelemetryOptions extends HostSamplerOptions {
  workers: () => readonly TelemetryWorker[];
  now: () => number;
  /** a worker's /system_stats slower than this reports its last known figures */
  workerTimeoutMs?: number;
  log?: Logger;
}

export interface TelemetrySource {
  read(): Promise<TelemetryJson>;
}

export class Telemetry implements TelemetrySource {
  private readonly host: HostSampler;
  private inFlight: Promise<TelemetryJson> | null = null;
  private readonly lastKnown = new Map<string, Record<string, unknown>>();

  constructor(private readonly opts: TelemetryOptions) {
    this.host = new HostSampler(opts);
  }

  read(): Promise<TelemetryJson> {
    this.inFlight ??= this.sample().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async sample(): Promise<TelemetryJson> {
    const [host, workers] = await Promise.all([
      this.host.read(),
      Promise.all(this.opts.workers().map((w) => this.readWorker(w))),
    ]);
    return { at: this.opts.now(), host: hostJson(host), workers };
  }

  private async readWorker(w: TelemetryWorker): Promise<TelemetryJson['workers'][number]> {
    let raw: Record<string, unknown> | null = null;
    let error: string | null = null;
    if (w.state === 'online') {
      try {
        raw = await withTimeout(w.client.systemStats(), this.opts.workerTimeoutMs ?? 1_500);
        this.lastKnown.set(w.id, raw);
      } catch (err) {
        // Reported in the reading (error, fresh: false) with the last known figures.
        error = (err as Error).message;
        this.opts.log?.debug({ worker: w.id, err }, `worker system_stats unread: ${error}`);
      }
    } else {
      error = `worker is ${w.state}`;
    }
    const s: WorkerSystem = parseSystemStats(raw ?? this.lastKnown.get(w.id) ?? w.systemStats);
    return {
      id: w.id,
      url: w.url,
      state: w.state,
      fresh: raw !== null,
      error,
      ram_total: s.ramTotalBytes,
      ram_free: s.ramFreeBytes,
      comfyui_version: s.comfyuiVersion,
      devices: s.devices.map((d) => ({
        name: d.name,
        type: d.type,
        index: d.index,
        vram_total: d.vramTotalBytes,
        vram_free: d.vramFreeBytes,
      })),
    };
  }
}

export function hostJson(h: HostReading): TelemetryJson['host'] {
  const used = Math.max(0, h.memory.totalBytes - h.memory.availableBytes);
  return {
    cpu: { percent: round(h.cpuPercent), cores: h.cores },
    ram: { total: h.memory.totalBytes, used, percent: round(pct(used, h.memory.totalBytes)) ?? 0 },
    disk: h.disk && {
      path: h.disk.path,
      total: h.disk.totalBytes,
      free: h.disk.freeBytes,
      used: Math.max(0, h.disk.totalBytes - h.disk.freeBytes),
      percent: round(pct(h.disk.totalBytes - h.disk.freeBytes, h.disk.totalBytes)) ?? 0,
    },
    gpus: h.gpus.map((g) => ({
      index: g.index,
      name: g.name,
      utilization_percent: g.utilizationPercent,
      vram_total: g.memoryTotalBytes,
      vram_used: g.memoryUsedBytes,
      vram_percent:
        g.memoryUsedBytes === null || g.memoryTotalBytes === null
          ? null
          : round(pct(g.memoryUsedBytes, g.memoryTotalBytes)),
    })),
  };
}

function pct(part: number, whole: number): number | null {
  return whole > 0 ? (100 * part) / whole : null;
}

function round(n: number | null): number | null {
  return n === null ? null : Math.round(n * 10) / 10;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
