/**
 * A job's progress as one terminal line (node, step x/y, percent, ETA), and
 * the live area that keeps such lines up to date: redrawn in place on a
 * terminal, one printed line per change when the output is a file or a pipe.
 */
import { duration, shortId } from './format.js';
import { clip } from './table.js';

/** The fields of a progress snapshot (docs/events.md) the command line shows. */
export interface ProgressView {
  status: string;
  percent: number;
  currentNode: {
    id: string;
    classType: string | null;
    title: string;
    step: { value: number; max: number } | null;
  } | null;
  etaMs: number | null;
  elapsedMs: number;
}

/** A job as the API shows it, as far as a progress line needs. */
export interface JobView {
  prompt_id: string;
  display_name?: string | null;
  name?: string | null;
  status: string;
  worker?: string | null;
  started_at?: number | null;
  ended_at?: number | null;
  error?: { type?: string; message?: string; node_id?: string | null; node_type?: string | null } | null;
}

export function bar(percent: number, cells = 20): string {
  const p = Math.max(0, Math.min(100, percent));
  const full = Math.round((p / 100) * cells);
  return `[${'#'.repeat(full)}${'.'.repeat(cells - full)}]`;
}

/**
 * One line for a job. `progress` comes with `at`, the server time it was
 * read, so the ETA counts down between pushes.
 */
export function progressLine(
  job: JobView,
  progress: (ProgressView & { at?: number }) | null,
  now: number,
  opts: { withBar?: boolean } = {},
): string {
  const head = `${shortId(job.prompt_id)}  ${clip(job.display_name ?? job.name ?? '', 28)}`;
  return `${head}  ${progressText(job, progress, now, opts)}`;
}

export function progressText(
  job: JobView,
  progress: (ProgressView & { at?: number }) | null,
  now: number,
  opts: { withBar?: boolean } = {},
): string {
  switch (job.status) {
    case 'pending':
      return 'pending';
    case 'completed':
      return `completed${runTime(job)}`;
    case 'cancelled':
      return 'cancelled';
    case 'failed':
      return `failed: ${errorText(job.error)}`;
  }
  const where = job.worker ? ` on ${job.worker}` : '';
  if (!progress) return `starting${where}`;
  if (progress.status === 'queued') return `waiting in ${job.worker ?? 'the worker'}'s queue`;
  if (progress.status === 'starting') return `starting${where}`;
  const parts: string[] = [];
  if (opts.withBar) parts.push(bar(progress.percent));
  parts.push(`${progress.percent.toFixed(0).padStart(3)}%`);
  const node = progress.currentNode;
  if (node) {
    const label = node.title && node.title !== node.id ? node.title : (node.classType ?? `node ${node.id}`);
    parts.push(node.step ? `${clip(label, 24)} ${node.step.value}/${node.step.max}` : clip(label, 24));
  }
  const eta = progress.etaMs === null ? null : progress.etaMs - Math.max(0, now - (progress.at ?? now));
  if (eta !== null) parts.push(`ETA ${duration(Math.max(0, eta))}`);
  parts.push(where.trim());
  return parts.filter(Boolean).join('  ');
}

function runTime(job: JobView): string {
  return job.started_at && job.ended_at ? ` in ${duration(job.ended_at - job.started_at)}` : '';
}

/** A job's error in one line: type, node, message. */
export function errorText(error: JobView['error']): string {
  if (!error) return 'no error recorded';
  const node = error.node_type
    ? ` in ${error.node_type}${error.node_id ? ` (node ${error.node_id})` : ''}`
    : '';
  return `${error.type ?? 'error'}${node}: ${(error.message ?? '').trim() || 'no message'}`;
}

export interface Output {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/**
 * Lines that change over time. On a terminal the block is redrawn in place
 * (cursor up, clear, rewrite), each line cut to the terminal's width so that
 * none wraps; elsewhere a line is printed whenever its text changes.
 */
export class LiveArea {
  private drawn = 0;
  private readonly printed = new Map<string, string>();

  constructor(private readonly out: Output) {}

  get inPlace(): boolean {
    return this.out.isTTY === true;
  }

  /** `lines`: key → text, in display order. Off a terminal only changed lines are printed. */
  render(lines: ReadonlyMap<string, string>, footer: string[] = []): void {
    if (this.inPlace) {
      const cols = Math.max(20, (this.out.columns || 100) - 1);
      const all = [...lines.values(), ...footer].map((l) => clip(l, cols));
      let s = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
      for (const l of all) s += `\r\x1b[2K${l}\n`;
      // A block that shrank leaves old lines below: clear them.
      if (all.length < this.drawn) s += '\x1b[J';
      this.out.write(s);
      this.drawn = all.length;
      return;
    }
    for (const [key, text] of lines) {
      if (this.printed.get(key) === text) continue;
      this.printed.set(key, text);
      this.out.write(`${text}\n`);
    }
  }

  /** Prints a line above the live block (an event that stays in the scrollback). */
  note(line: string): void {
    if (this.inPlace && this.drawn > 0) {
      this.out.write(`\x1b[${this.drawn}A\r\x1b[J${line}\n`);
      this.drawn = 0;
    } else this.out.write(`${line}\n`);
  }
}
