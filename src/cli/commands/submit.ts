/** `comfy-queue submit FILE...`: queue workflow files, optionally waiting for them with live progress. */
import { readFileSync } from 'node:fs';
import { type ApiClient, ApiError } from '../api-client.js';
import type { ApiJob } from '../api-types.js';
import { intFlag, UsageError } from '../args.js';
import { followEvents } from '../event-follow.js';
import { shortId } from '../format.js';
import { FINAL, JobBoard } from '../job-board.js';
import { errorText, LiveArea, progressLine } from '../progress-bar.js';
import {
  classify,
  type SubmitFlags,
  type SubmitForm,
  SubmitInputError,
  submitBody,
} from '../submit-input.js';
import {
  COMMON_HELP,
  type Command,
  type CommandContext,
  client,
  needPositionals,
  parse,
  printJson,
} from './common.js';

interface Planned {
  file: string;
  form: SubmitForm;
  body: Record<string, unknown>;
}

export const submit: Command = {
  summary: 'queue workflow files (API-format graphs or {"prompt": ...} bodies)',
  help: `comfy-queue submit FILE... [--name N] [--priority P] [--front] [--count N] [--seed random] [--wait]

Queues each FILE, a JSON file: an API-format graph as ComfyUI's "Export (API)"
saves it, a POST /api/pqueue/jobs body ({"prompt": ..., "name": ...}), or a
UI workflow as ComfyUI's "Save" writes it (sent as it is, for a server that
converts workflows).
  --name N        the jobs' name
  --priority P    an integer; higher runs sooner (default 0)
  --front         ahead of the other pending jobs of the same priority
  --count N       N copies of each file
  --seed random   a new random seed/noise_seed on every sampler of each copy
  --wait          follow the jobs with a live progress line each (node,
                  step, percent, ETA) until they end; exit 0 when all
                  completed, 1 when any failed or was cancelled

${COMMON_HELP}
`,
  async run(argv, ctx) {
    const { values, positionals } = parse(
      'submit',
      argv,
      {
        name: { type: 'string' },
        priority: { type: 'string' },
        front: { type: 'boolean' },
        count: { type: 'string' },
        seed: { type: 'string' },
        wait: { type: 'boolean' },
      },
      true,
    );
    needPositionals('submit', positionals, 'one or more JSON files');
    const count = intFlag(values.count, 'count', 1, 10_000) ?? 1;
    if (values.seed !== undefined && values.seed !== 'random') {
      throw new UsageError(`--seed takes "random" (a new random seed for each copy), not "${values.seed}"`);
    }
    const flags: SubmitFlags = {
      name: values.name,
      priority: intFlag(values.priority, 'priority', -1_000_000, 1_000_000),
      front: values.front === true,
      randomSeed: values.seed === 'random',
    };
    const plan = readFiles(positionals, count, flags);
    const api = client(values, ctx.env);
    const json = values.json === true;

    const board = new JobBoard();
    let onChange: (id: string) => void = () => {};
    const ids: string[] = [];
    const refresh = async () => {
      for (const id of ids) {
        const e = board.entries.get(id);
        if (!e || !FINAL.has(e.job.status))
          board.set(await api.get<ApiJob>(`/api/pqueue/jobs/${id}`), ctx.now());
        onChange(id);
      }
    };
    // Listening starts before the first job is sent, so that no event of ours is missed.
    const follower = values.wait
      ? await followEvents(api, {
          onSnapshot: (msg) => {
            board.applySnapshot(msg);
            refresh().catch((err) => ctx.err.write(`comfy-queue: ${(err as Error).message}\n`));
          },
          onEvent: (msg) => {
            const c = board.apply(msg);
            if (c) onChange(c.id);
          },
          onReconnecting: (reason) =>
            ctx.err.write(`comfy-queue: event stream: ${reason}; connecting again…\n`),
        })
      : null;
    try {
      const { jobs, code } = await send(api, plan, flags, ctx, json);
      for (const job of jobs) if (job) ids.push(job.prompt_id);
      if (!follower) {
        if (json) printJson(ctx.out, jobs.filter(Boolean));
        return code;
      }
      for (const job of jobs) if (job) board.set(job, ctx.now());
      const waited = await waitForAll(api, board, ids, ctx, json, (fn) => {
        onChange = fn;
      });
      return Math.max(code, waited);
    } finally {
      follower?.close();
    }
  },
};

function readFiles(files: string[], count: number, flags: SubmitFlags): Planned[] {
  const plan: Planned[] = [];
  for (const file of files) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'ENOENT' ? 'no such file' : e.code ? e.message : `not JSON: ${e.message}`;
      throw new UsageError(`submit: ${file}: ${why}`);
    }
    try {
      const form = classify(json);
      for (let i = 0; i < count; i++) plan.push({ file, form, body: submitBody(json, form, flags) });
    } catch (err) {
      if (err instanceof SubmitInputError) throw new UsageError(`submit: ${file}: ${err.message}`);
      throw err;
    }
  }
  return plan;
}

/** Sends every planned job; with --front last first, so that they run in the order given. */
async function send(
  api: ApiClient,
  plan: Planned[],
  flags: SubmitFlags,
  ctx: CommandContext,
  json: boolean,
): Promise<{ jobs: (ApiJob | null)[]; code: number }> {
  const jobs: (ApiJob | null)[] = plan.map(() => null);
  let code = 0;
  const order = plan.map((_, i) => i);
  if (flags.front) order.reverse();
  for (const i of order) {
    const p = plan[i] as Planned;
    try {
      let job = await api.post<ApiJob>('/api/pqueue/jobs', p.body);
      if (p.form === 'ui-workflow') job = await applyFlags(api, job, flags);
      jobs[i] = job;
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      code = 1;
      const hint =
        p.form === 'ui-workflow' && err.status === 400
          ? '; this server takes API-format graphs: save the workflow with "Export (API)" in ComfyUI'
          : '';
      ctx.err.write(`comfy-queue: submit ${p.file}: ${err.message} (${err.code})${hint}\n`);
    }
  }
  if (!json) {
    jobs.forEach((job, i) => {
      if (job) ctx.out.write(`queued ${shortId(job.prompt_id)}  ${job.display_name}  (${plan[i]?.file})\n`);
    });
  }
  return { jobs, code };
}

/** A UI workflow is sent as it is: its name, priority and place are set once it is queued. */
async function applyFlags(api: ApiClient, job: ApiJob, flags: SubmitFlags): Promise<ApiJob> {
  let j = job;
  if (flags.name !== undefined)
    j = {
      ...j,
      ...(await api.patch<ApiJob>('/api/pqueue/rename', { prompt_id: j.prompt_id, name: flags.name })),
    };
  if (flags.priority !== undefined)
    j = {
      ...j,
      ...(await api.patch<ApiJob>('/api/pqueue/priority', {
        prompt_id: j.prompt_id,
        priority: flags.priority,
      })),
    };
  if (flags.front) await api.post('/api/pqueue/reorder', { prompt_ids: [j.prompt_id] });
  return j;
}

async function waitForAll(
  api: ApiClient,
  board: JobBoard,
  ids: string[],
  ctx: CommandContext,
  json: boolean,
  listen: (fn: (id: string) => void) => void,
): Promise<number> {
  if (ids.length === 0) return 1;
  const area = new LiveArea(ctx.out);
  const mine = new Set(ids);
  const ended = () => ids.every((id) => FINAL.has(board.entries.get(id)?.job.status ?? 'deleted'));
  const render = () => {
    if (json) return;
    const now = ctx.now();
    const lines = new Map<string, string>();
    for (const id of ids) {
      const e = board.entries.get(id);
      lines.set(
        id,
        e
          ? progressLine(e.job, e.progress, area.inPlace ? now : (e.progress?.at ?? now), {
              withBar: area.inPlace,
            })
          : `${shortId(id)}  deleted`,
      );
    }
    area.render(lines);
  };
  const outcome = await new Promise<'done' | 'interrupted'>((resolve) => {
    const timer = area.inPlace ? setInterval(render, 500) : null;
    const finish = (how: 'done' | 'interrupted') => {
      if (timer) clearInterval(timer);
      render();
      resolve(how);
    };
    listen((id) => {
      if (!mine.has(id)) return;
      render();
      if (ended()) finish('done');
    });
    render();
    if (ended()) finish('done');
    ctx.interrupted().then(() => finish('interrupted'));
  });
  if (outcome === 'interrupted') {
    ctx.err.write('stopped waiting; the jobs stay queued (comfy-queue ls, comfy-queue watch)\n');
    return 130;
  }
  const finals = ids.map((id) => board.entries.get(id)?.job ?? null);
  if (json) {
    printJson(
      ctx.out,
      await Promise.all(
        ids.map((id) =>
          api.get<ApiJob>(`/api/pqueue/jobs/${id}`).catch((err: unknown) => {
            // A job deleted while it was followed has no answer but this one.
            if (err instanceof ApiError && err.code === 'JOB_NOT_FOUND')
              return { prompt_id: id, status: 'deleted' };
            throw err;
          }),
        ),
      ),
    );
  }
  const count = (s: string) => finals.filter((j) => (j?.status ?? 'deleted') === s).length;
  const failed = finals.filter((j) => j?.status !== 'completed');
  if (!json) {
    const parts = ['completed', 'failed', 'cancelled', 'deleted']
      .filter((s) => count(s) > 0)
      .map((s) => `${count(s)} ${s}`);
    ctx.out.write(`${parts.join(', ')}\n`);
  }
  for (const [i, j] of finals.entries()) {
    if (!j) ctx.err.write(`comfy-queue: ${shortId(ids[i] as string)} was deleted before it ended\n`);
    else if (j.status === 'failed')
      ctx.err.write(`comfy-queue: ${shortId(j.prompt_id)} failed: ${errorText(j.error)}\n`);
    else if (j.status === 'cancelled') ctx.err.write(`comfy-queue: ${shortId(j.prompt_id)} was cancelled\n`);
  }
  return failed.length > 0 ? 1 : 0;
}
