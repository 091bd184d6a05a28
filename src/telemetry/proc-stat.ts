/**
 * CPU utilisation from Linux's /proc/stat: the aggregate `cpu` line holds
 * cumulative jiffies per state; utilisation is the busy share of the
 * difference between two readings. Pure over the file's text.
 */

export interface CpuTimes {
  /** idle + iowait jiffies */
  idle: number;
  /** all jiffies (guest time is already inside user/nice, so it is left out) */
  total: number;
}

export function parseCpuTimes(procStat: string): CpuTimes | null {
  const line = procStat.split('\n').find((l) => /^cpu\s/.test(l));
  if (!line) return null;
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 4 || f.some((n) => !Number.isFinite(n))) return null;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  return { idle: idle + iowait, total: user + nice + system + idle + iowait + irq + softirq + steal };
}

/** Busy percent (0–100) between two readings; null when no time passed between them. */
export function cpuPercent(prev: CpuTimes, next: CpuTimes): number | null {
  const total = next.total - prev.total;
  if (!(total > 0)) return null;
  const busy = total - (next.idle - prev.idle);
  return Math.min(100, Math.max(0, (100 * busy) / total));
}
