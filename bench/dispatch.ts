/**
 * Dispatch overhead: 2,000 near-zero-duration jobs through comfy-queue to one
 * simulator, against the same jobs posted straight to a fresh simulator, as a
 * throughput ratio (target ≥ 0.9 of direct), and the server's own CPU time
 * per job (user + system, read from /proc; target ≤ 0.7 ms), split by
 * thread, and the simulator's. Every job saves an image, so a thumbnail is
 * made and the file collected (to <data>/outputs, the default) for each; the
 * CPU is counted until every thumbnail and collection is done (read from the
 * store's file), and how many were done when the last job finished is printed.
 * BENCH_SERVE_ARGS adds flags to `serve` (e.g. "--collect off"); BENCH_DISPATCH_NODES=N
 * puts N ImageInvert nodes between the image and its save (a graph the size of a
 * real workflow: ComfyUI's progress_state lists every node run so far).
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import { spawnServe, spawnSim, tempDir } from '../test/helpers/harness.js';
import { cpuMs, fmt, runConcurrent, send, threadCpuMs, tinyPrompt } from './lib.js';

const JOBS = Number(process.env.BENCH_DISPATCH_JOBS ?? 2_000);
const CONCURRENCY = 20;
const capacityArgs = process.env.BENCH_WORKER_CAPACITY
  ? ['--worker-capacity', process.env.BENCH_WORKER_CAPACITY]
  : [];
const durability = process.env.BENCH_DURABILITY ?? 'full';
const NODES = Number(process.env.BENCH_DISPATCH_NODES ?? 0);

/** The benchmark's graph: tinyPrompt, with NODES inverts chained before the save. */
function graph(seed: number): Record<string, unknown> {
  const p = tinyPrompt(seed) as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
  if (NODES <= 1) return p;
  for (let i = 0; i < NODES - 1; i++)
    p[String(10 + i)] = { class_type: 'ImageInvert', inputs: { image: [i === 0 ? '2' : String(9 + i), 0] } };
  p['3']!.inputs.images = [String(8 + NODES), 0];
  return p;
}

async function direct(): Promise<number> {
  const sim = await spawnSim(0, ['--step-ms', '0']);
  try {
    const clientId = randomUUID();
    const ws = new WebSocket(`${sim.url.replace('http', 'ws')}/ws?clientId=${clientId}`);
    await new Promise((r) => ws.once('open', r));
    let done = 0;
    const finished = new Promise<void>((resolve) => {
      ws.on('message', (data, isBinary) => {
        if (isBinary) return;
        const m = JSON.parse(data.toString());
        if (m.type === 'executing' && m.data.node === null && ++done === JOBS) resolve();
      });
    });
    const t0 = performance.now();
    await runConcurrent(JOBS, CONCURRENCY, async (i) => {
      const r = await send('POST', `${sim.url}/prompt`, { prompt: graph(i), client_id: clientId });
      if (r.status !== 200) throw new Error(`sim /prompt ${r.status}: ${r.text}`);
    });
    await finished;
    const s = (performance.now() - t0) / 1000;
    ws.close();
    return JOBS / s;
  } finally {
    await sim.kill('SIGTERM');
  }
}

/** Thumbnails made and outputs collected so far, read from the server's SQLite file (WAL: beside its writer). */
function outputsDone(db: Database.Database): { thumbnails: number; collected: number } {
  const thumbnails = (db.prepare('SELECT count(*) AS n FROM thumbnails').get() as { n: number }).n;
  const collected = (
    db.prepare("SELECT count(*) AS n FROM collections WHERE state = 'stored'").get() as { n: number }
  ).n;
  return { thumbnails, collected };
}

interface QueueRun {
  rate: number;
  /** done when the last job finished */
  atFinish: { thumbnails: number; collected: number };
  /** ms from the last job's finish until every thumbnail and collection was done */
  tailMs: number;
  cpuPerJob: number;
  threads: ReturnType<typeof threadCpuMs>;
  simCpuPerJob: number;
}

async function throughQueue(): Promise<QueueRun> {
  const sim = await spawnSim(0, ['--step-ms', '0']);
  const data = tempDir('cq-bench-');
  const server = await spawnServe([
    '--data',
    data.path,
    '--comfy',
    sim.url,
    '--durability',
    durability,
    ...capacityArgs,
    ...(process.env.BENCH_SERVE_ARGS ?? '').split(' ').filter(Boolean),
  ]);
  try {
    await new Promise((r) => setTimeout(r, 300)); // let the worker connect
    const pid = server.proc.pid!;
    const cpu0 = cpuMs(pid);
    const threads0 = threadCpuMs(pid);
    const sim0 = cpuMs(sim.proc.pid);
    const t0 = performance.now();
    await runConcurrent(JOBS, CONCURRENCY, async (i) => {
      const r = await send('POST', `${server.url}/api/pqueue/jobs`, { prompt: graph(i) });
      if (r.status !== 201) throw new Error(`enqueue ${r.status}: ${r.text}`);
    });
    for (;;) {
      const q = JSON.parse((await send('GET', `${server.url}/api/pqueue?limit=1`)).text);
      if (q.counts.completed + q.counts.failed + q.counts.cancelled >= JOBS) {
        if (q.counts.completed !== JOBS) throw new Error(`not all completed: ${JSON.stringify(q.counts)}`);
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const s = (performance.now() - t0) / 1000;
    const db = new Database(join(data.path, 'comfy-queue.sqlite3'), { readonly: true });
    const atFinish = outputsDone(db);
    const collecting = !(process.env.BENCH_SERVE_ARGS ?? '').includes('--collect off');
    const t1 = performance.now();
    for (;;) {
      const done = outputsDone(db);
      if (done.thumbnails >= JOBS && (!collecting || done.collected >= JOBS)) break;
      if (performance.now() - t1 > 120_000)
        throw new Error(`outputs not done after 120 s: ${JSON.stringify(done)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const tailMs = performance.now() - t1;
    db.close();
    const threads = threadCpuMs(pid);
    return {
      rate: JOBS / s,
      atFinish,
      tailMs,
      cpuPerJob: (cpuMs(pid) - cpu0) / JOBS,
      threads: {
        main: (threads.main - threads0.main) / JOBS,
        store: (threads.store - threads0.store) / JOBS,
        vips: (threads.vips - threads0.vips) / JOBS,
        rest: (threads.rest - threads0.rest) / JOBS,
      },
      simCpuPerJob: (cpuMs(sim.proc.pid) - sim0) / JOBS,
    };
  } finally {
    await server.kill('SIGTERM');
    await sim.kill('SIGTERM');
    data.remove();
  }
}

const d = await direct();
const q = await throughQueue();
console.log(
  `dispatch: ${JOBS} near-zero jobs of ${Object.keys(graph(0)).length} nodes, one simulator${capacityArgs.length ? `, worker capacity ${capacityArgs[1]}` : ''}`,
);
console.log(`  direct to the simulator: ${fmt(d, 0)} jobs/s`);
console.log(`  through comfy-queue:     ${fmt(q.rate, 0)} jobs/s`);
console.log(`  ratio ${fmt(q.rate / d)} (target ≥ 0.90)`);
console.log(
  `  when the last job finished: ${q.atFinish.thumbnails} thumbnails, ${q.atFinish.collected} collected; all done ${fmt(q.tailMs, 0)} ms later`,
);
console.log(
  `  server CPU per job: ${fmt(q.cpuPerJob, 2)} ms (target ≤ 0.70; until every thumbnail and collection is done; includes the HTTP polling of this benchmark)`,
);
const t = q.threads;
console.log(
  `    by thread: main ${fmt(t.main, 2)}, store ${fmt(t.store, 2)}, libvips ${fmt(t.vips, 2)}, pool and GC ${fmt(t.rest, 2)} ms`,
);
console.log(`  simulator CPU per job through comfy-queue: ${fmt(q.simCpuPerJob, 2)} ms`);
process.exit(0);
