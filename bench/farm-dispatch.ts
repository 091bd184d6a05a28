/**
 * Dispatch latency in a farm: from a job's enqueue (the client sends POST
 * /api/pqueue/jobs) to its worker's POST /prompt (the simulator's gate), one
 * job at a time so that no job waits for a busy worker. Printed: p50 and p99
 * with 20 simulated workers, against the same with 1 worker measured in the
 * same run (the cost of routing over more workers), as ratios.
 */
import { join } from 'node:path';
import { DEFAULT_CONFIG, startServer } from '../src/server.js';
import { type RunningSimulator, startSimulator } from '../src/sim/index.js';
import { tempDir } from '../test/helpers/harness.js';
import { fmt, percentile, send, tinyPrompt } from './lib.js';

const JOBS = Number(process.env.BENCH_FARM_DISPATCH_JOBS ?? 400);
const durability = process.env.BENCH_DURABILITY === 'normal' ? 'NORMAL' : 'FULL';

async function measure(workers: number): Promise<number[]> {
  const submitted = new Map<string, number>();
  let onSubmit: ((id: string) => void) | null = null;
  const sims: RunningSimulator[] = [];
  for (let i = 0; i < workers; i++) {
    sims.push(
      await startSimulator({
        stepMs: 0,
        promptGate: (id, stage) => {
          if (stage !== 'before-queue') return;
          submitted.set(id, performance.now());
          onSubmit?.(id);
        },
      }),
    );
  }
  const dir = tempDir('cq-bench-farm-');
  const server = await startServer({
    ...DEFAULT_CONFIG,
    port: 0,
    logLevel: 'error',
    dataDir: join(dir.path, 'data'),
    comfyUrls: sims.map((s, i) => `w${i + 1}=${s.url}`),
    synchronous: durability,
  });
  try {
    for (;;) {
      const list = JSON.parse((await send('GET', `${server.url}/api/farm/workers`)).text).workers as {
        state: string;
        capabilities: unknown;
      }[];
      if (list.length === workers && list.every((w) => w.state === 'online' && w.capabilities)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const latencies: number[] = [];
    for (let i = 0; i < JOBS; i++) {
      const t0 = performance.now();
      const seen = new Promise<string>((resolve) => {
        onSubmit = resolve;
      });
      const r = await send('POST', `${server.url}/api/pqueue/jobs`, { prompt: tinyPrompt(i) });
      if (r.status !== 201) throw new Error(`enqueue ${r.status}: ${r.text}`);
      const id = JSON.parse(r.text).prompt_id as string;
      while (!submitted.has(id)) await seen;
      latencies.push(submitted.get(id)! - t0);
    }
    return latencies.sort((a, b) => a - b);
  } finally {
    await server.close();
    for (const s of sims) await s.close();
    dir.remove();
  }
}

const one = await measure(1);
const twenty = await measure(20);
const line = (name: string, l: number[]) =>
  `  ${name}: p50 ${fmt(percentile(l, 50))} ms, p99 ${fmt(percentile(l, 99))} ms`;
console.log(`farm dispatch: enqueue → worker's POST /prompt, ${JOBS} jobs one at a time (${durability})`);
console.log(line(' 1 worker ', one));
console.log(line('20 workers', twenty));
console.log(
  `  20 / 1 workers: p50 ${fmt(percentile(twenty, 50) / percentile(one, 50))}x, p99 ${fmt(percentile(twenty, 99) / percentile(one, 99))}x`,
);
process.exit(0);
