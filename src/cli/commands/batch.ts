/** `comfy-queue batch WORKFLOW.json`: queue a batch and follow it with a live progress bar; `comfy-queue batches`: list them. */
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import type { ApiClient } from '../api-client.js';
import { intFlag, UsageError } from '../args.js';
import { type BatchFlags, batchBody, parseBind, parseSweep, parseTraits } from '../batch-input.js';
import { duration } from '../format.js';
import { bar, LiveArea } from '../progress-bar.js';
import { SubmitInputError } from '../submit-input.js';
import { renderTable } from '../table.js';
import {
  COMMON_HELP,
  type Command,
  type CommandContext,
  client,
  needPositionals,
  parse,
  printJson,
} from './common.js';

/** A batch as GET /api/pqueue/batches/{id} answers it (docs/batches.md). */
export interface ApiBatch {
  id: number;
  name: string;
  total: number;
  state: 'running' | 'paused' | 'finished';
  counts: { pending: number; in_progress: number; completed: number; failed: number; cancelled: number };
  per_minute: number;
  eta_ms: number | null;
}

/** How often the progress bar reads the batch: a few times a second at most. */
const POLL_MS = 500;

/** One line: bar, done/total, rate, ETA, failures. */
export function batchLine(b: ApiBatch): string {
  const c = b.counts;
  const finished = c.completed + c.failed + c.cancelled;
  const pct = b.total > 0 ? (finished / b.total) * 100 : 100;
  const parts = [
    `${b.name}`,
    `${bar(pct)} ${finished}/${b.total}`,
    `${c.in_progress} running`,
    `${b.per_minute.toFixed(1)}/min`,
  ];
  if (b.state === 'running' && b.eta_ms !== null) parts.push(`ETA ${duration(b.eta_ms)}`);
  if (b.state === 'paused') parts.push('PAUSED');
  if (c.failed + c.cancelled > 0) parts.push(`${c.failed} failed, ${c.cancelled} cancelled`);
  return parts.join('  ');
}

export const batch: Command = {
  summary: 'queue one workflow many times (seeds, traits, a sweep) and follow it',
  help: `comfy-queue batch WORKFLOW.json --count N [--seed-start S | --seed random]
                  [--traits FILE.json|.csv --bind TRAIT=NODE.INPUT]... [--sweep NODE.INPUT=a,b,c]...
                  [--name NAME] [--priority P] [--weight W] [--no-follow]

Queues a batch: the workflow (an API-format graph, a {"prompt": ...} body or a
saved UI workflow) run once per item, each item's outputs named
<NAME>/<index>. Then shows a live progress bar (done/total, rate, ETA,
failures) until the batch ends; Ctrl-C leaves it running on the server.
  --count N        items (default: one per row of --traits, else 1)
  --seed-start S   item k (1-based) gets seed S+k-1 on every sampler
  --seed random    a random seed for each item
  --traits FILE    a JSON array (or object) of trait objects, or a CSV with a
                   header row: one item per row
  --bind T=N.I     write trait T into input I of node N (e.g. hat=6.text)
  --sweep N.I=a,b  run every item with each value (several --sweep: every
                   combination)
  --name NAME      the batch's name and output folder (default: the file's name)
  --priority P     an integer; higher runs sooner (default 0)
  --weight W       its share against other batches at its priority (default 1)
  --no-follow      print the batch and return at once
Exit: 0 when every item completed, 1 when any failed or was cancelled.

${COMMON_HELP}
`,
  async run(argv, ctx) {
    const { values, positionals } = parse(
      'batch',
      argv,
      {
        count: { type: 'string' },
        'seed-start': { type: 'string' },
        seed: { type: 'string' },
        traits: { type: 'string' },
        bind: { type: 'string', multiple: true },
        sweep: { type: 'string', multiple: true },
        name: { type: 'string' },
        priority: { type: 'string' },
        weight: { type: 'string' },
        'no-follow': { type: 'boolean' },
      },
      true,
    );
    needPositionals('batch', positionals, 'a workflow JSON file', 1, 1);
    const file = positionals[0]!;
    if (values.seed !== undefined && values.seed !== 'random')
      throw new UsageError(`batch: --seed takes "random", not "${values.seed}" (--seed-start S for a range)`);
    if (values.seed !== undefined && values['seed-start'] !== undefined)
      throw new UsageError('batch: give --seed-start S or --seed random, not both');
    let body: Record<string, unknown>;
    try {
      const flags: BatchFlags = {
        name: values.name ?? basename(file, extname(file)),
        count: intFlag(values.count, 'count', 1, 1_000_000),
        seedStart: intFlag(values['seed-start'], 'seed-start', 0, Number.MAX_SAFE_INTEGER),
        randomSeed: values.seed === 'random',
        traits: values.traits ? parseTraits(readText(values.traits), values.traits) : undefined,
        binds: (values.bind ?? []).map(parseBind),
        sweeps: (values.sweep ?? []).map(parseSweep),
        priority: intFlag(values.priority, 'priority', -1_000_000, 1_000_000),
        weight: values.weight === undefined ? undefined : Number(values.weight),
      };
      if (flags.weight !== undefined && !(flags.weight > 0))
        throw new UsageError(`--weight must be a number above 0 (got "${values.weight}")`);
      body = batchBody(JSON.parse(readText(file)), flags);
    } catch (err) {
      if (err instanceof SubmitInputError) throw new UsageError(`batch: ${err.message}`);
      if (err instanceof SyntaxError) throw new UsageError(`batch: ${file}: not JSON (${err.message})`);
      throw err;
    }
    const api = client(values, ctx.env);
    const created = await api.post<ApiBatch>('/api/pqueue/batches', body);
    if (values['no-follow']) {
      if (values.json) printJson(ctx.out, created);
      else ctx.out.write(`batch ${created.id} ${created.name}: ${created.total} items queued\n`);
      return 0;
    }
    if (!values.json) ctx.out.write(`batch ${created.id} ${created.name}: ${created.total} items queued\n`);
    return follow(api, created.id, ctx, values.json === true);
  },
};

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(
      `batch: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/** Redraws the batch's line until it ends (exit 0 or 1) or the user leaves (Ctrl-C, exit 0). */
async function follow(api: ApiClient, id: number, ctx: CommandContext, json: boolean): Promise<number> {
  const area = new LiveArea(ctx.out);
  let left = false;
  const leaving = ctx.interrupted().then(() => {
    left = true;
  });
  for (;;) {
    const b = await api.get<ApiBatch>(`/api/pqueue/batches/${id}`);
    if (!json) area.render(new Map([['batch', batchLine(b)]]));
    if (b.state === 'finished') {
      if (json) printJson(ctx.out, b);
      return b.counts.failed + b.counts.cancelled > 0 ? 1 : 0;
    }
    await Promise.race([leaving, new Promise((r) => setTimeout(r, POLL_MS))]);
    if (left) {
      area.note(`left the batch: it carries on (comfy-queue batches; id ${id})`);
      return 0;
    }
  }
}

export const batches: Command = {
  summary: 'the batches: progress, rate, time to finish',
  help: `comfy-queue batches

Every batch with its state, items done of its total, failures, rate and
expected time to finish.

${COMMON_HELP}
`,
  async run(argv, ctx) {
    const { values } = parse('batches', argv, {});
    const api = client(values, ctx.env);
    const r = await api.get<{ batches: ApiBatch[] }>('/api/pqueue/batches');
    if (values.json) {
      printJson(ctx.out, r);
      return 0;
    }
    if (r.batches.length === 0) {
      ctx.out.write('no batches\n');
      return 0;
    }
    ctx.out.write(
      renderTable(r.batches, [
        { header: 'id', cell: (b) => String(b.id), right: true },
        { header: 'name', cell: (b) => b.name, max: 32 },
        { header: 'state', cell: (b) => b.state },
        {
          header: 'done',
          cell: (b) => `${b.counts.completed + b.counts.failed + b.counts.cancelled}/${b.total}`,
          right: true,
        },
        { header: 'failed', cell: (b) => String(b.counts.failed + b.counts.cancelled), right: true },
        { header: 'rate', cell: (b) => `${b.per_minute.toFixed(1)}/min`, right: true },
        { header: 'eta', cell: (b) => (b.state === 'running' ? duration(b.eta_ms) : '') },
      ]),
    );
    return 0;
  },
};
