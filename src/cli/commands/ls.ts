/** `comfy-queue ls`: the queue as a table, running jobs first, then pending in run order. */
import type { QueueAnswer } from '../api-types.js';
import { intFlag } from '../args.js';
import { shortId } from '../format.js';
import { progressText } from '../progress-bar.js';
import { renderTable } from '../table.js';
import { COMMON_HELP, type Command, client, parse, printJson, statusWord } from './common.js';

export const ls: Command = {
  summary: 'the queue: running and pending jobs',
  help: `comfy-queue ls [--limit N]

The queue as a table: running jobs, then pending jobs in the order they will
run, with each job's short id, name, status, priority, worker, and its
progress (running) or expected start (pending). --limit caps the pending jobs
listed (default 500).

${COMMON_HELP}
`,
  async run(argv, ctx) {
    const { values } = parse('ls', argv, { limit: { type: 'string' } });
    const limit = intFlag(values.limit, 'limit', 1, 10_000) ?? 500;
    const api = client(values, ctx.env);
    const q = await api.get<QueueAnswer>(`/api/pqueue?limit=${limit}`);
    if (values.json) {
      printJson(ctx.out, q);
      return 0;
    }
    const now = ctx.now();
    const rows = [...q.running, ...q.pending];
    const c = q.counts;
    ctx.out.write(
      `queue ${q.paused ? 'PAUSED (comfy-queue resume starts it)' : 'running'}: ` +
        `${q.running.length} running, ${q.pending_total} pending; ` +
        `history: ${c.completed ?? 0} completed, ${c.failed ?? 0} failed, ${c.cancelled ?? 0} cancelled\n`,
    );
    if (rows.length === 0) {
      ctx.out.write('the queue is empty\n');
      return 0;
    }
    ctx.out.write(
      renderTable(rows, [
        { header: 'id', cell: (j) => shortId(j.prompt_id) },
        { header: 'name', cell: (j) => j.display_name, max: 32 },
        { header: 'status', cell: (j) => statusWord(j.status) },
        { header: 'pri', cell: (j) => String(j.priority), right: true },
        { header: 'worker', cell: (j) => j.worker ?? '' },
        {
          header: 'progress',
          cell: (j) =>
            j.status === 'in_progress'
              ? progressText(j, j.progress ?? null, now).replace(/ {2}on \S+$/, '')
              : (j.estimate?.starts_in ?? ''),
        },
      ]),
    );
    if (q.pending_total > q.pending.length) {
      ctx.out.write(`… and ${q.pending_total - q.pending.length} more pending (--limit N lists more)\n`);
    }
    return 0;
  },
};
