/** `comfy-queue show ID`: one job in full, readable. */
import type { ApiJob } from '../api-types.js';
import { dateTime, duration } from '../format.js';
import { resolveJobId } from '../job-ref.js';
import { errorText, progressText } from '../progress-bar.js';
import {
  COMMON_HELP,
  type Command,
  client,
  needPositionals,
  parse,
  printJson,
  statusWord,
} from './common.js';

export const show: Command = {
  summary: 'one job in full',
  help: `comfy-queue show ID

Everything about one job: status, times, worker, progress, error (with
ComfyUI's traceback), outputs and the nodes of its graph. ID is the job id
or a unique prefix of it (as ls and history show).

${COMMON_HELP}
`,
  async run(argv, ctx) {
    const { values, positionals } = parse('show', argv, {}, true);
    needPositionals('show', positionals, 'a job id', 1, 1);
    const api = client(values, ctx.env);
    const id = await resolveJobId(api, positionals[0] as string);
    const job = await api.get<ApiJob>(`/api/pqueue/jobs/${id}`);
    if (values.json) {
      printJson(ctx.out, job);
      return 0;
    }
    ctx.out.write(describeJob(job, ctx.now()));
    return 0;
  },
};

export function describeJob(job: ApiJob, now: number): string {
  const rows: [string, string][] = [];
  const add = (k: string, v: string | null | undefined) => {
    if (v !== null && v !== undefined && v !== '') rows.push([k, v]);
  };
  add('id', job.prompt_id);
  add('name', job.name ? job.name : `${job.display_name} (no name given)`);
  add('status', `${statusWord(job.status)}${job.attempts > 1 ? ` (attempt ${job.attempts})` : ''}`);
  add('priority', String(job.priority));
  add('worker', job.worker);
  add('created', dateTime(job.created_at));
  if (job.started_at)
    add(
      'started',
      `${dateTime(job.started_at)} (after ${duration(job.started_at - job.created_at)} in the queue)`,
    );
  if (job.ended_at)
    add(
      'ended',
      `${dateTime(job.ended_at)}${job.started_at ? ` (ran ${duration(job.ended_at - job.started_at)})` : ''}`,
    );
  if (job.status === 'in_progress')
    add('progress', progressText(job, job.progress ?? null, now, { withBar: true }));
  if (job.error) add('error', errorText(job.error));
  if (job.error?.exception_type) add('exception', job.error.exception_type);
  add('outputs', outputsText(job.outputs));
  add('graph', graphText(job.prompt));
  add(
    'workflow',
    job.workflow ? `UI workflow${job.workflow_id ? ` ${job.workflow_id}` : ''}` : 'API prompt only',
  );
  if (job.requeued_from) add('requeued from', job.requeued_from);
  if (job.flagged) add('flagged', 'yes (for a re-render)');
  if (job.client_id) add('client id', job.client_id);
  const w = Math.max(...rows.map(([k]) => k.length));
  let s = rows.map(([k, v]) => `${k.padEnd(w)}  ${v.replace(/\n/g, `\n${' '.repeat(w + 2)}`)}`).join('\n');
  const tb = job.error?.traceback;
  if (Array.isArray(tb) && tb.length) s += `\n\ntraceback:\n${tb.join('').trimEnd()}`;
  return `${s}\n`;
}

function outputsText(outputs: ApiJob['outputs']): string {
  if (!outputs) return '';
  const lines: string[] = [];
  for (const [node, out] of Object.entries(outputs)) {
    for (const [kind, files] of Object.entries(out)) {
      if (!Array.isArray(files)) continue;
      for (const f of files) {
        if (f && typeof f === 'object' && 'filename' in f) {
          const file = f as { filename: string; subfolder?: string; type?: string };
          const path = file.subfolder ? `${file.subfolder}/${file.filename}` : file.filename;
          lines.push(`node ${node} ${kind}: ${path} (${file.type ?? 'output'})`);
        }
      }
    }
  }
  return lines.join('\n');
}

function graphText(prompt: ApiJob['prompt']): string {
  if (!prompt) return '';
  const counts = new Map<string, number>();
  for (const n of Object.values(prompt))
    counts.set(n.class_type ?? '?', (counts.get(n.class_type ?? '?') ?? 0) + 1);
  const kinds = [...counts].map(([k, n]) => (n > 1 ? `${k} ×${n}` : k)).join(', ');
  return `${Object.keys(prompt).length} nodes: ${kinds}`;
}
