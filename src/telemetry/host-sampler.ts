/**
 * Reads the comfy-queue host: CPU from /proc/stat (busy share since the
 * previous reading), RAM from /proc/meminfo, the data folder's disk from
 * statfs, GPUs from nvidia-smi when the binary exists. Thin IO over the pure
 * parsers beside it; each source that is missing (another OS, no GPU) reads
 * as null or empty instead of failing.
 */
import { execFile } from 'node:child_process';
import { readFile, statfs } from 'node:fs/promises';
import { availableParallelism, freemem, totalmem } from 'node:os';
import { type MemoryReading, parseMeminfo } from './meminfo.js';
import { type GpuReading, NVIDIA_SMI_ARGS, parseNvidiaSmi } from './nvidia-smi.js';
import { type CpuTimes, cpuPercent, parseCpuTimes } from './proc-stat.js';

export interface DiskReading {
  path: string;
  totalBytes: number;
  freeBytes: number;
}

export interface HostReading {
  cpuPercent: number | null;
  cores: number;
  memory: MemoryReading;
  disk: DiskReading | null;
  gpus: GpuReading[];
}

export interface HostSamplerOptions {
  /** the folder whose file system is reported as "disk" */
  dataDir: string;
  /** replaces the nvidia-smi command (tests); resolves its stdout */
  runNvidiaSmi?: () => Promise<string>;
  nvidiaSmiTimeoutMs?: number;
}

export class HostSampler {
  private lastCpu: CpuTimes | null = null;
  private lastCpuPercent: number | null = null;
  /** false once nvidia-smi turned out not to exist: it is not looked for again */
  private gpuProbe = true;

  constructor(private readonly opts: HostSamplerOptions) {}

  async read(): Promise<HostReading> {
    const [cpu, memory, disk, gpus] = await Promise.all([
      this.readCpu(),
      this.readMemory(),
      this.readDisk(),
      this.readGpus(),
    ]);
    return { cpuPercent: cpu, cores: availableParallelism(), memory, disk, gpus };
  }

  private async readCpu(): Promise<number | null> {
    // No /proc (not Linux): the figure is reported as unknown (null), which is what it is.
    const times = parseCpuTimes(await readFile('/proc/stat', 'utf8').catch(() => ''));
    if (!times) return null;
    const prev = this.lastCpu;
    this.lastCpu = times;
    // The first reading has nothing to compare with; readings closer than a jiffy keep the last figure.
    const pct = prev ? cpuPercent(prev, times) : null;
    if (pct !== null) this.lastCpuPercent = pct;
    else if (prev) this.lastCpu = prev;
    return this.lastCpuPercent;
  }

  private async readMemory(): Promise<MemoryReading> {
    // No /proc/meminfo (not Linux): node's own totals below.
    const parsed = parseMeminfo(await readFile('/proc/meminfo', 'utf8').catch(() => ''));
    return parsed ?? { totalBytes: totalmem(), availableBytes: freemem() };
  }

  private async readDisk(): Promise<DiskReading | null> {
    try {
      const s = await statfs(this.opts.dataDir);
      // bavail: what an unprivileged process may still write, as `df` shows it.
      return { path: this.opts.dataDir, totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
    } catch {
      return null; // the data folder's disk cannot be read: reported as unknown
    }
  }

  private async readGpus(): Promise<GpuReading[]> {
    if (!this.gpuProbe) return [];
    try {
      return parseNvidiaSmi(await (this.opts.runNvidiaSmi ?? (() => this.nvidiaSmi()))());
    } catch (err) {
      // No nvidia-smi (ENOENT) means no NVIDIA GPU to report: not probed again. Any other failure
      // reports no GPU for this reading only.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') this.gpuProbe = false;
      return [];
    }
  }

  private nvidiaSmi(): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        'nvidia-smi',
        NVIDIA_SMI_ARGS,
        { timeout: this.opts.nvidiaSmiTimeoutMs ?? 3_000, windowsHide: true },
        (err, stdout) => (err ? reject(err) : resolve(stdout)),
      );
    });
  }
}
