/**
 * GPU utilisation and VRAM from `nvidia-smi --query-gpu=<NVIDIA_SMI_FIELDS>
 * --format=csv,noheader,nounits`: one line per GPU, fields in the order asked.
 * Pure over the command's output.
 */

export const NVIDIA_SMI_FIELDS = ['index', 'name', 'utilization.gpu', 'memory.used', 'memory.total'] as const;

export const NVIDIA_SMI_ARGS = [
  `--query-gpu=${NVIDIA_SMI_FIELDS.join(',')}`,
  '--format=csv,noheader,nounits',
];

export interface GpuReading {
  index: number;
  name: string;
  /** 0–100; null when the driver reports it as not supported */
  utilizationPercent: number | null;
  /** bytes (nvidia-smi reports MiB) */
  memoryUsedBytes: number | null;
  memoryTotalBytes: number | null;
}

const MIB = 1024 * 1024;

export function parseNvidiaSmi(text: string): GpuReading[] {
  const gpus: GpuReading[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    // The name is the only field that may hold a comma: everything between index and the last three.
    const parts = line.split(',').map((s) => s.trim());
    if (parts.length < NVIDIA_SMI_FIELDS.length) continue;
    const index = Number(parts[0]);
    if (!Number.isInteger(index)) continue;
    const [util, used, total] = parts.slice(-3).map(num);
    gpus.push({
      index,
      name: parts.slice(1, -3).join(', '),
      utilizationPercent: util ?? null,
      memoryUsedBytes: used === null || used === undefined ? null : used * MIB,
      memoryTotalBytes: total === null || total === undefined ? null : total * MIB,
    });
  }
  return gpus;
}

/** "[N/A]", "[Not Supported]" and the like read as null. */
function num(field: string): number | null {
  const n = Number(field);
  return field !== '' && Number.isFinite(n) ? n : null;
}
