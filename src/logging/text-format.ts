/**
 * The readable log format: one pino JSON line in, one text line out,
 * `2026-01-31T12:00:00.000Z INFO  [engine] message key=value ...`. A tiny
 * formatter instead of pino-pretty: the server needs no other dependency and
 * the line stays one line (an error's stack is left to --log-json).
 */

const LEVEL_NAMES: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/** Fields every line has, printed in the prefix rather than as key=value. */
const PREFIX_KEYS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'component']);

export function formatLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    // Not a pino line (it cannot happen with pino as the writer): pass it through unchanged.
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const time = typeof o.time === 'number' ? new Date(o.time).toISOString() : '';
  const level = (LEVEL_NAMES[o.level as number] ?? String(o.level)).padEnd(5);
  const component = typeof o.component === 'string' ? ` [${o.component}]` : '';
  let line = `${time} ${level}${component} ${oneLine(String(o.msg ?? ''))}`;
  for (const [k, v] of Object.entries(o)) {
    if (PREFIX_KEYS.has(k) || v === undefined) continue;
    line += ` ${k}=${valueText(k, v)}`;
  }
  return `${line}\n`;
}

function valueText(key: string, v: unknown): string {
  if (key === 'err' && v && typeof v === 'object') {
    const e = v as { message?: unknown; type?: unknown };
    return quote(`${e.type ? `${String(e.type)}: ` : ''}${String(e.message ?? '')}`);
  }
  if (typeof v === 'string') return quote(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return quote(JSON.stringify(v));
}

function quote(s: string): string {
  const flat = oneLine(s);
  return /^[^\s"=]+$/.test(flat) ? flat : JSON.stringify(flat);
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ⏎ ');
}

/** A pino destination that writes each line as text to `out`. */
export function textDestination(out: { write(s: string): unknown }): { write(line: string): void } {
  return { write: (line) => void out.write(formatLine(line)) };
}
