/** `comfy-queue history`: finished jobs, newest first, with filters and text search. */
import type { HistoryPage } from '../api-types.js';
import { intFlag, UsageError } from '../args.js';
import { dateTime, duration, shortId, sinceParam } from '../format.js';
import { errorText } from '../progress-bar.js';
import { renderTable } from '../table.js';
import { COMMON_HELP, type Command, client, parse, printJson } from './common.js';

const STATUSES = ['completed', 'failed', 'cancelled'];

export const history: Command = {
  summary: 'finished jobs, newest first',
  help: `comfy-queue history [--status S] [--q TEXT] [--since WHEN] [--limit N]

Finished jobs (completed, failed, cancelled), newest first.
  --status S    completed, failed or cancelled; several comma-separated
  --q TEXT      words that must all appear in the name, the prompt's text,
                node types or seeds (as in the dashboard's search)
  --since WHEN  created since: an ISO date or date-time (2026-01-31,
                2026-01-31T08:00:00Z) or a time ago: -30m, -1h, -2d, -1w
  --limit N     at most N jobs (1-500, default 50)

${COMMON_HELP}
`,
  async run(argv, ctx) {
    const { values } = parse('history', argv, {
      status: { type: 'string' },
      q: { type: 'string' },
      since: { type: 'string' },
      limit: { type: 'string' },
    });
    const params = new URLSearchParams();
    if (values.status !== undefined) {
      const bad = values.status.split(',').filter((s) => !STATUSES.includes(s.trim()));
      if (bad.length)
        throw new UsageError(`--status ${values.status}: give ${STATUSES.join(', ')} (comma-separated)`);
      params.set('status', values.status);
    }
    if (values.q !== undefined) params.set('q', values.q);
    if (values.since !== undefined) {
      const since = sinceParam(values.since, ctx.now());
      if (since === null)
        throw new UsageError(
          `--since ${values.since}: give an ISO date (2026-01-31), a date-time, or -30m, -1h, -2d`,
        );
      params.set('since', since);
    }
    params.set('limit', String(intFlag(values.limit, 'limit', 1, 500) ?? 50));
    const api = client(values, ctx.env);
    const page = await api.get<HistoryPage>(`/api/pqueue/history?${params}`);
    if (values.json) {
      printJson(ctx.out, page);
      return 0;
    }
    if (page.jobs.length === 0) {
      ctx.out.write('no finished job matches\n');
      return 0;
    }
    ctx.out.write(
      renderTable(page.jobs, [
        { header: 'id', cell: (j) => shortId(j.prompt_id) },
        { header: 'name', cell: (j) => j.display_name, max: 32 },
        { header: 'status', cell: (j) => j.status },
        { header: 'worker', cell: (j) => j.worker ?? '' },
        { header: 'created', cell: (j) => dateTime(j.created_at) },
        { header: 'took', cell: (j) => (j.started_at ? duration(j.execution_duration) : ''), right: true },
        {
          header: 'result',
          cell: (j) =>
            j.status === 'failed'
              ? errorText(j.error)
              : j.status === 'completed'
                ? `${j.outputs_count} output${j.outputs_count === 1 ? '' : 's'}${j.preview_output ? `: ${j.preview_output.filename}` : ''}`
                : '',
          max: 60,
        },
      ]),
    );
    if (page.has_more) ctx.out.write(`… more match: --limit N (up to 500) or --since narrow it\n`);
    return 0;
  },
};
