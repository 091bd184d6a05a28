/**
 * `comfy-queue workers`: the farm's workers as GET /api/farm/workers has them: state (quarantined
 * until when), mode, capacity, tags, the jobs each holds (running or next in its own queue), its last
 * hour, ComfyUI's version, VRAM and RAM in use.
 */
import { bytes, duration, shortId } from '../format.js';
import { renderTable } from '../table.js';
import { COMMON_HELP, type Command, client, parse, printJson } from './common.js';

interface FarmWorker {
  id: string;
  url: string;
  state: string;
  mode: string;
  capacity: number;
  tags: string[];
  jobs: string[];
  waiting_jobs: string[];
  quarantined_until: number | null;
  failure_streak: number;
  system_stats: {
    system?: { ram_total?: number; ram_free?: number; comfyui_version?: string };
    devices?: { name: string; type?: string; vram_total: number | null; vram_free: number | null }[];
  } | null;
  stats: { completed: number; failed: number; mean_ms: number | null; busy_share: number };
}

function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export const workers: Command = {
  summary: 'the ComfyUI workers: state, mode, tags, what they run',
  help: `comfy-queue workers

The farm's workers (GET /api/farm/workers): id, address, state (online,
offline, draining, paused, or quarantined until a time), capacity, tags, the
jobs each holds (running, or next in its own queue), its last hour (jobs done
and failed, mean run time, busy share), ComfyUI's version, VRAM and RAM in use.

${COMMON_HELP}
`,
  async run(argv, ctx) {
    const { values } = parse('workers', argv, {});
    const api = client(values, ctx.env);
    const [farm, q] = await Promise.all([
      api.get<{ workers: FarmWorker[] }>('/api/farm/workers'),
      api.get<{ running: { prompt_id: string; display_name: string }[] }>('/api/pqueue?limit=1'),
    ]);
    if (values.json) {
      printJson(ctx.out, farm.workers);
      return 0;
    }
    if (farm.workers.length === 0) {
      ctx.out.write('no workers configured\n');
      return 0;
    }
    const names = new Map(q.running.map((j) => [j.prompt_id, j.display_name]));
    const jobs = (w: FarmWorker) =>
      w.jobs
        .map((id) =>
          `${shortId(id)} ${names.get(id) ?? ''}${w.waiting_jobs.includes(id) ? ' (next)' : ''}`.trim(),
        )
        .join(', ');
    const used = (total: number | null | undefined, free: number | null | undefined) =>
      total ? `${bytes(total - (free ?? 0))} / ${bytes(total)}` : '';
    const state = (w: FarmWorker) =>
      w.state === 'quarantined' && w.quarantined_until
        ? `quarantined until ${clock(w.quarantined_until)}`
        : w.state;
    ctx.out.write(
      renderTable(farm.workers, [
        { header: 'id', cell: (w) => w.id },
        { header: 'url', cell: (w) => w.url },
        { header: 'state', cell: state },
        { header: 'cap', cell: (w) => String(w.capacity) },
        { header: 'tags', cell: (w) => w.tags.join(','), max: 24 },
        { header: 'jobs', cell: jobs, max: 40 },
        {
          header: 'last hour',
          cell: (w) =>
            `${w.stats.completed} done, ${w.stats.failed} failed` +
            (w.stats.mean_ms === null ? '' : `, ~${duration(w.stats.mean_ms)}`) +
            `, ${Math.round(w.stats.busy_share * 100)}% busy`,
        },
        { header: 'comfyui', cell: (w) => w.system_stats?.system?.comfyui_version ?? '' },
        {
          header: 'vram',
          cell: (w) =>
            (w.system_stats?.devices ?? [])
              .filter((d) => d.type !== 'cpu')
              .map((d) => used(d.vram_total, d.vram_free))
              .filter(Boolean)
              .join(', '),
        },
        {
          header: 'ram',
          cell: (w) => used(w.system_stats?.system?.ram_total, w.system_stats?.system?.ram_free),
        },
      ]),
    );
    for (const w of farm.workers)
      if (w.failure_streak > 0) ctx.out.write(`${w.id}: ${w.failure_streak} failure(s) in a row\n`);
    return 0;
  },
};
