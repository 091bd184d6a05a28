/** How the command line writes ids, times and durations. */

/** The first 8 characters of a job id: what `ls` shows and what `show`, `cancel`... accept. */
export function shortId(id: string): string {
  return id.slice(0, 8);
}

/** 850ms, 4.1s, 3m 05s, 1h 20m. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '';
  const v = Math.max(0, ms);
  if (v < 1000) return `${Math.round(v)}ms`;
  if (v < 60_000) return `${(v / 1000).toFixed(1)}s`;
  const s = Math.round(v / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** A local date-time, to the second: 2026-01-31 14:05:09. */
export function dateTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '';
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** 1.5 GiB, 812 MiB. */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 10 || u === 0 ? Math.round(v) : v.toFixed(1)} ${units[u]}`;
}

/**
 * `--since`: an ISO date-time or date as the API takes it, milliseconds since
 * the epoch, or a time ago: -30m, -1h, -2d, -1w. Answers what the API's
 * `since` parameter takes, or null when `raw` is none of these.
 */
export function sinceParam(raw: string, now: number): string | null {
  const ago = raw.trim().match(/^-?(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)$/i);
  if (ago) {
    const unit: Record<string, number> = { s: 1e3, m: 60e3, min: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 };
    return String(Math.round(now - Number(ago[1]) * (unit[(ago[2] as string).toLowerCase()] ?? 0)));
  }
  if (/^\d{10,}$/.test(raw.trim())) return raw.trim();
  if (/^\d{4}-\d{2}-\d{2}/.test(raw.trim()) && !Number.isNaN(Date.parse(raw.trim()))) return raw.trim();
  return null;
}
