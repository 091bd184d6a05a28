/** `comfy-queue workers`: the ComfyUI workers, their state, the job each runs, their memory. */
import { bytes, shortId } from '../format.js';
import { renderTable } from '../table.js';
import { COMMON_HELP, type Command, client, parse, printJson } from './common.js';

interface Device {
  name: string;
  vram_total: number | null;
  vram_free: number | null;
}

interface WorkerTelemetry {
  id: string;
  url: string;
  state: string;
  fresh: boolean;
  error: string | null;
  comfyui_version: string | null;
  ram_total: number | null;
  ram_free: number | null;
  devices: Device[] | null;
}

export const workers: Command = {
  summary: 'the ComfyUI workers and what they run',
  help: `comfy-queue workers

The ComfyUI workers: id, address, state, the jobs each runs now, ComfyUI's
version, VRAM and RAM in use (from GET /api/admin/telemetry).

${COMMON_HELP}
`,
  async run(argv, ctx) {
    const { values } = parse('workers', argv, {});
    const api = client(values, ctx.env);
    const [t, q] = await Promise.all([
      api.get<{ workers: WorkerTelemetry[] }>('/api/admin/telemetry'),
      api.get<{ running: { prompt_id: string; worker: string | null; display_name: string }[] }>(
        '/api/pqueue?limit=1',
      ),
    ]);
    if (values.json) {
      printJson(ctx.out, t.workers);
      return 0;
    }
    if (t.workers.length === 0) {
      ctx.out.write('no workers configured\n');
      return 0;
    }
    const jobsOf = (id: string) =>
      q.running
        .filter((j) => j.worker === id)
        .map((j) => `${shortId(j.prompt_id)} ${j.display_name}`)
        .join(', ');
    const used = (total: number | null, free: number | null) =>
      total ? `${bytes(total - (free ?? 0))} / ${bytes(total)}` : '';
    ctx.out.write(
      renderTable(t.workers, [
        { header: 'id', cell: (w) => w.id },
        { header: 'url', cell: (w) => w.url },
        {
          header: 'state',
          cell: (w) => (w.fresh || w.state !== 'online' ? w.state : `${w.state} (stale figures)`),
        },
        { header: 'running', cell: (w) => jobsOf(w.id), max: 40 },
        { header: 'comfyui', cell: (w) => w.comfyui_version ?? '' },
        {
          header: 'vram',
          cell: (w) =>
            (w.devices ?? [])
              .map((d) => used(d.vram_total, d.vram_free))
              .filter(Boolean)
              .join(', '),
        },
        { header: 'ram', cell: (w) => used(w.ram_total, w.ram_free) },
      ]),
    );
    for (const w of t.workers) if (w.error && w.state !== 'online') ctx.out.write(`${w.id}: ${w.error}\n`);
    return 0;
  },
};
