/** RAM from Linux's /proc/meminfo (values in kB). Pure over the file's text. */

export interface MemoryReading {
  totalBytes: number;
  /** MemAvailable: what can be used without swapping (MemFree undercounts the page cache) */
  availableBytes: number;
}

export function parseMeminfo(text: string): MemoryReading | null {
  const kb = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+)(?:\s+kB)?/.exec(line);
    if (m) kb.set(m[1]!, Number(m[2]));
  }
  const total = kb.get('MemTotal');
  // Kernels before 3.14 lack MemAvailable: approximate it as free + buffers + page cache.
  const available =
    kb.get('MemAvailable') ??
    (kb.has('MemFree')
      ? (kb.get('MemFree') ?? 0) + (kb.get('Buffers') ?? 0) + (kb.get('Cached') ?? 0)
      : undefined);
  if (total === undefined || available === undefined) return null;
  return { totalBytes: total * 1024, availableBytes: available * 1024 };
}
