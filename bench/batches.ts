/**
 * Batches: creation time and store growth for 100,000 items (in the store,
 * and through POST /api/pqueue/batches on a comfy-queue child process), the
 * cost of a claim in fair-share order with 1,000 batches pending against one
 * batch of the same size, and a 10,000-item batch (seeds, traits, a 2×3
 * sweep) run to the end on 4 simulated workers, each item checked.
 * Targets: 100,000 items in under 1 s, well under 1 KB per item, a claim
 * that does not grow with the number of batches.
 * BENCH_BATCH_ITEMS, BENCH_BATCH_E2E (0 skips the run on workers) change the sizes;
 * BENCH_BATCH_ROUNDS how many times each creation is measured (3). The
 * tracker's listing over 1,000,000 items is bench/tracker-jobs.ts.
 */
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { buildBatchSpec } from '../src/domain/batch-spec.js';
import { itemIds } from '../src/domain/ids.js';
import type { PromptGraph } from '../src/domain/job.js';
import { startSimulator } from '../src/sim/index.js';
import { SqliteJobStore } from '../src/store/sqlite/sqlite-store.js';
import {
  http,
  simExecutions,
  spawnServe,
  startTestServer,
  t2iPrompt,
  tempDir,
  until,
} from '../test/helpers/harness.js';
import { fmt, percentile, send } from './lib.js';

const ITEMS = Number(process.env.BENCH_BATCH_ITEMS ?? 100_000);
const E2E = Number(process.env.BENCH_BATCH_E2E ?? 10_000);
const ROUNDS = Number(process.env.BENCH_BATCH_ROUNDS ?? 3);
const graph = t2iPrompt(1, 0) as unknown as PromptGraph;

function fileBytes(file: string): number {
  const db = new Database(file);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return statSync(file).size;
}

/** The median of the rounds, with the fastest and the slowest: one round on 2 noisy cores says little. */
function spread(ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  return `${fmt(percentile(sorted, 50), 0)} ms median (${fmt(sorted[0]!, 0)}–${fmt(sorted[sorted.length - 1]!, 0)} ms over ${sorted.length})`;
}

async function openStore(dir: string): Promise<{ store: SqliteJobStore; file: string }> {
  const file = join(dir, `s${Math.random().toString(36).slice(2)}.sqlite3`);
  const store = new SqliteJobStore({ file });
  await store.init();
  return { store, file };
}

function batchOf(name: string, count: number) {
  return {
    name,
    template: graph,
    workflow: null,
    extraData: {},
    spec: buildBatchSpec({ count, seed: { start: 1 } }, graph, 0),
    priority: 0,
    weight: 1,
    requires: [],
    clientId: null,
    createdAt: Date.now(),
    ids: itemIds(Date.now(), randomBytes(9)),
  };
}

const data = tempDir('cq-bench-batches-');
try {
  // 1. Creation in the store (synchronous=FULL, as served), each round in a new store.
  {
    const times: number[] = [];
    let perItem = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const { store, file } = await openStore(data.path);
      await store.close();
      const empty = fileBytes(file);
      await store.init();
      const t0 = performance.now();
      await store.createBatch(batchOf('big', ITEMS));
      times.push(performance.now() - t0);
      await store.close();
      perItem = (fileBytes(file) - empty) / ITEMS;
    }
    console.log(
      `store: ${ITEMS} items created in ${spread(times)}; store grew ${fmt(perItem, 0)} bytes per item`,
    );
  }

  // 2. Through the API, on a child process: the route, the batch service and the store.
  {
    const dir = join(data.path, 'served');
    const server = await spawnServe(['--data', dir, '--comfy', 'http://127.0.0.1:9']);
    try {
      await send('POST', `${server.url}/api/pqueue/pause`);
      const items = Array.from({ length: ITEMS }, (_, i) => ({ n: i, hat: ['red', 'blue', 'green'][i % 3] }));
      const times: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const t0 = performance.now();
        const r = await send('POST', `${server.url}/api/pqueue/batches`, {
          name: `api-${round}`,
          prompt: graph,
          seed: { start: 1 },
          items,
          bindings: { hat: '6.inputs.text' },
        });
        times.push(performance.now() - t0);
        if (r.status !== 201) throw new Error(`batch answered ${r.status}: ${r.text}`);
      }
      console.log(
        `api: POST of ${ITEMS} items with traits answered in ${spread(times)} (one server, its store growing)`,
      );
    } finally {
      await server.kill('SIGTERM');
    }
  }

  // 3. A claim in fair-share order: 1,000 batches of 100 against one batch of 100,000.
  for (const [label, batches, each] of [
    ['1 batch of 100,000', 1, 100_000],
    ['1,000 batches of 100', 1_000, 100],
  ] as const) {
    const { store } = await openStore(data.path);
    for (let b = 0; b < batches; b++) await store.createBatch(batchOf(`b${b}`, each));
    const lat: number[] = [];
    const groups = new Set<number>();
    const started = performance.now();
    for (let i = 0; i < 2_000; i++) {
      const t = performance.now();
      const job = await store.claimNext('w', i, i + 1_000);
      lat.push(performance.now() - t);
      if (job?.batch) groups.add(job.batch.id);
    }
    const perSecond = 2_000 / ((performance.now() - started) / 1000);
    lat.sort((a, b) => a - b);
    const t = performance.now();
    for (let i = 0; i < 100; i++) await store.listPending(200);
    const windowMs = (performance.now() - t) / 100;
    console.log(
      `claim with ${label} pending: ${fmt(perSecond, 0)} claims/s, p50 ${fmt(percentile(lat, 50) * 1000, 0)} µs, p99 ${fmt(percentile(lat, 99) * 1000, 0)} µs ` +
        `(2,000 claims reached ${groups.size} batches); the scheduler's 200-job window read in ${fmt(windowMs, 2)} ms`,
    );
    await store.close();
  }

  // 4. A batch of seeds × traits × a 2×3 sweep run to the end on 4 simulated workers.
  if (E2E > 0) {
    const sims = await Promise.all([0, 1, 2, 3].map(() => startSimulator({ port: 0, stepMs: 1 })));
    const server = await startTestServer({
      comfyUrls: sims.map((s) => s.url),
      dataDir: join(data.path, 'e2e'),
    });
    try {
      const base = Math.ceil(E2E / 6);
      const items = Array.from({ length: base }, (_, b) => ({ subject: `subject ${b}` }));
      const t0 = performance.now();
      const created = await http('POST', `${server.url}/api/pqueue/batches`, {
        name: 'run',
        prompt: graph,
        seed: { start: 7 },
        items,
        bindings: { subject: '6.inputs.text' },
        sweep: { '3.inputs.cfg': [5, 7], '3.inputs.sampler_name': ['euler', 'euler_ancestral', 'dpmpp_2m'] },
      });
      const total: number = created.body.total;
      const done = await until(
        async () => {
          const r = await http('GET', `${server.url}/api/pqueue/batches/${created.body.id}`);
          return r.body.state === 'finished' ? r.body : undefined;
        },
        'the batch to finish',
        3_600_000,
      );
      const seconds = (performance.now() - t0) / 1000;
      const runs = (await Promise.all(sims.map((s) => simExecutions(s.url)))).flat();
      const once = new Set(runs.map((r) => r.prompt_id)).size === runs.length && runs.length === total;
      let wrong = 0;
      for (const s of sims) {
        const h = await http<Record<string, any>>('GET', `${s.url}/history`);
        for (const entry of Object.values(h.body)) {
          const g = entry.prompt[2];
          const prefix: string = g['9'].inputs.filename_prefix;
          const index = Number(prefix.split('/')[1]);
          const b = Math.floor((index - 1) / 6);
          if (g['3'].inputs.seed !== 7 + b || g['6'].inputs.text !== `subject ${b}`) wrong++;
        }
      }
      console.log(
        `run: ${total} items on 4 simulated workers in ${fmt(seconds, 1)} s (${fmt(total / seconds, 0)} items/s); ` +
          `${done.counts.completed} completed; each executed once: ${once}; items with a wrong seed or trait: ${wrong}`,
      );
    } finally {
      await server.close();
      await Promise.all(sims.map((s) => s.close()));
    }
  }
} finally {
  data.remove();
}
