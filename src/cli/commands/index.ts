/** The commands that talk to a running comfy-queue, by name. */
import { batch, batches } from './batch.js';
import type { Command } from './common.js';
import { history } from './history.js';
import { cancel, pause, requeue, resume, rm } from './job-actions.js';
import { ls } from './ls.js';
import { show } from './show.js';
import { submit } from './submit.js';
import { watch } from './watch.js';
import { workers } from './workers.js';

export const CLIENT_COMMANDS: Record<string, Command> = {
  submit,
  ls,
  show,
  watch,
  history,
  pause,
  resume,
  cancel,
  rm,
  requeue,
  workers,
  batch,
  batches,
};

/** The overview lines of the client commands, for the main help. */
export function clientOverview(): string {
  const w = Math.max(...Object.keys(CLIENT_COMMANDS).map((n) => n.length));
  return Object.entries(CLIENT_COMMANDS)
    .map(([name, c]) => `  ${name.padEnd(w)}  ${c.summary}`)
    .join('\n');
}

/** `--help` or `-h` among a command's flags (before a `--`). */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}
