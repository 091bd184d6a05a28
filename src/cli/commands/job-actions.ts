/** Changing the queue: pause, resume, cancel, rm (delete) and requeue. */
import { ApiError } from '../api-client.js';
import type { ApiJob } from '../api-types.js';
import { intFlag } from '../args.js';
import { shortId } from '../format.js';
import { JobRefError, resolveJobId } from '../job-ref.js';
import {
  COMMON_HELP,
  type Command,
  type CommandContext,
  client,
  needPositionals,
  parse,
  printJson,
} from './common.js';

export const pause: Command = {
  summary: 'stop starting jobs (running ones finish)',
  help: `comfy-queue pause

Stops dispatching: running jobs finish, nothing new starts until resume.
The pause is kept across restarts.

${COMMON_HELP}
`,
  async run(argv, ctx) {
    const { values } = parse('pause', argv, {});
    const r = await client(values, ctx.env).post('/api/pqueue/pause');
    if (values.json) printJson(ctx.out, r);
    else ctx.out.write('queue paused: running jobs finish, nothing new starts (comfy-queue resume)\n');
    return 0;
  },
};

export const resume: Command = {
  summary: 'start dispatching again',
  help: `comfy-queue resume

Starts dispatching pending jobs again after pause.

${COMMON_HELP}
`,
  async run(argv, ctx) {
    const { values } = parse('resume', argv, {});
    const r = await client(values, ctx.env).post('/api/pqueue/resume');
    if (values.json) printJson(ctx.out, r);
    else ctx.out.write('queue resumed\n');
    return 0;
  },
};

/** Runs `action` for each id, printing a line per job; a failure is reported and the rest still run. */
async function eachJob(
  ctx: CommandContext,
  refs: string[],
  resolve: (ref: string) => Promise<string>,
  action: (id: string) => Promise<{ line: string; json: unknown }>,
  json: boolean,
): Promise<number> {
  let code = 0;
  const answers: unknown[] = [];
  for (const ref of refs) {
    try {
      const r = await action(await resolve(ref));
      answers.push(r.json);
      if (!json) ctx.out.write(`${r.line}\n`);
    } catch (err) {
      if (!(err instanceof ApiError || err instanceof JobRefError)) throw err;
      code = 1;
      const detail = err instanceof ApiError ? ` (${err.code})` : '';
      ctx.err.write(`comfy-queue: ${ref}: ${err.message}${detail}\n`);
      if (json)
        answers.push({
          id: ref,
          error: { code: err instanceof ApiError ? err.code : 'JOB_NOT_FOUND', message: err.message },
        });
    }
  }
  if (json) printJson(ctx.out, answers);
  return code;
}

export const cancel: Command = {
  summary: 'cancel jobs: pending at once, running ones are interrupted',
  help: `comfy-queue cancel ID...

Cancels each job: a pending job at once, a running one is interrupted on its
worker and ends cancelled. IDs are job ids or unique prefixes. Exit 1 when
any could not be cancelled (the others still are).

${COMMON_HELP}
`,
  async run(argv, ctx) {
    const { values, positionals } = parse('cancel', argv, {}, true);
    needPositionals('cancel', positionals, 'one or more job ids');
    const api = client(values, ctx.env);
    return eachJob(
      ctx,
      positionals,
      (ref) => resolveJobId(api, ref),
      async (id) => {
        const job = await api.post<ApiJob>(`/api/pqueue/jobs/${id}/cancel`);
        const line =
          job.status === 'cancelled'
            ? `cancelled ${shortId(id)}  ${job.display_name}`
            : `cancelling ${shortId(id)}  ${job.display_name} (interrupting it on ${job.worker})`;
        return { line, json: job };
      },
      values.json === true,
    );
  },
};

export const rm: Command = {
  summary: 'delete pending or finished jobs',
  help: `comfy-queue rm ID...

Deletes jobs: pending ones leave the queue, finished ones leave the history.
A running job must be cancelled first. IDs are job ids or unique prefixes.
Exit 1 when any was not deleted (each is named with the reason).

${COMMON_HELP}
`,
  async run(argv, ctx) {
    const { values, positionals } = parse('rm', argv, {}, true);
    needPositionals('rm', positionals, 'one or more job ids');
    const api = client(values, ctx.env);
    const ids: string[] = [];
    let code = 0;
    for (const ref of positionals) {
      try {
        ids.push(await resolveJobId(api, ref));
      } catch (err) {
        if (!(err instanceof JobRefError)) throw err;
        ctx.err.write(`comfy-queue: ${ref}: ${err.message}\n`);
        code = 1;
      }
    }
    if (ids.length === 0) return code;
    const r = await api.post<{ deleted: string[]; skipped: { id: string; reason: string }[] }>(
      '/api/pqueue/delete',
      { prompt_ids: ids },
    );
    if (values.json) printJson(ctx.out, r);
    else for (const id of r.deleted) ctx.out.write(`deleted ${shortId(id)}\n`);
    for (const s of r.skipped) {
      if (!values.json) ctx.err.write(`comfy-queue: ${shortId(s.id)} not deleted: ${s.reason}\n`);
      code = 1;
    }
    return code;
  },
};

export const requeue: Command = {
  summary: 'run a finished job again, as a new job',
  help: `comfy-queue requeue ID [--new-seed] [--priority P]

Queues a finished job (completed, failed or cancelled) again as a new
pending job with the same graph. --new-seed draws a new random seed for every
sampler; --priority sets the new job's priority (default: the old one's).

${COMMON_HELP}
`,
  async run(argv, ctx) {
    const { values, positionals } = parse(
      'requeue',
      argv,
      { 'new-seed': { type: 'boolean' }, priority: { type: 'string' } },
      true,
    );
    needPositionals('requeue', positionals, 'a job id', 1, 1);
    const priority = intFlag(values.priority, 'priority', -1_000_000, 1_000_000);
    const api = client(values, ctx.env);
    const id = await resolveJobId(api, positionals[0] as string);
    const body: Record<string, unknown> = {};
    if (values['new-seed']) body.new_seed = true;
    if (priority !== undefined) body.priority = priority;
    const job = await api.post<ApiJob>(`/api/pqueue/jobs/${id}/requeue`, body);
    if (values.json) printJson(ctx.out, job);
    else
      ctx.out.write(
        `requeued ${shortId(id)} as ${shortId(job.prompt_id)}  ${job.display_name}` +
          `${values['new-seed'] ? ' (new seeds)' : ''}\n`,
      );
    return 0;
  },
};
