/**
 * Model affinity: 200 jobs over 3 checkpoints on 4 simulated workers whose
 * checkpoint change costs BENCH_MODEL_LOAD_MS. The same jobs run twice, with
 * routing's model affinity and without it (the engine's bench-only
 * `noModelAffinity`); printed: checkpoint loads the workers made, the
 * makespan, and their ratios (without / with).
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { PromptGraph } from '../src/domain/job.js';
import { Engine } from '../src/engine/engine.js';
import { MemoryEventBus } from '../src/engine/events.js';
import { type RunningSimulator, startSimulator } from '../src/sim/index.js';
import { openStore } from '../src/store/open-store.js';
import { WorkerDriver } from '../src/workers/driver.js';
import { t2iPrompt, tempDir } from '../test/helpers/harness.js';
import { fmt, send } from './lib.js';

const JOBS = Number(process.env.BENCH_AFFINITY_JOBS ?? 200);
const WORKERS = 4;
const LOAD_MS = Number(process.env.BENCH_MODEL_LOAD_MS ?? 40);
const CHECKPOINTS = [
  'sd_xl_base_1.0.safetensors',
  'v1-5-pruned-emaonly-fp16.safetensors',
  'v1-5-pruned-emaonly.safetensors',
];

/** A fixed pseudo-random sequence, so both runs get the same jobs in the same order. */
function checkpointsOf(n: number): string[] {
  let x = 0x2545f491;
  return Array.from({ length: n }, () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return CHECKPOINTS[(x >>> 0) % CHECKPOINTS.length]!;
  });
}

async function run(affinity: boolean, ckpts: string[]): Promise<{ loads: number; ms: number }> {
  const dir = tempDir('cq-bench-affinity-');
  const sims: RunningSimulator[] = [];
  for (let i = 0; i < WORKERS; i++) sims.push(await startSimulator({ stepMs: 2, modelLoadMs: LOAD_MS }));
  const store = await openStore({ kind: 'sqlite', file: join(dir.path, 'q.sqlite3'), synchronous: 'NORMAL' });
  const bus = new MemoryEventBus();
  const engine = new Engine(store, bus, {
    now: Date.now,
    newId: randomUUID,
    leaseMs: 60_000,
    maxAttempts: 5,
    noModelAffinity: !affinity,
  });
  const drivers = sims.map(
    (s, i) =>
      new WorkerDriver(`w${i + 1}`, s.url, `bench-${randomUUID()}`, engine, {
        capacity: 2,
        offlineTimeoutMs: 60_000,
        pollMs: 1_000,
        now: Date.now,
      }),
  );
  const online = new Set<string>();
  let finished = 0;
  let failed = 0;
  let allDone!: () => void;
  const done = new Promise<void>((r) => {
    allDone = r;
  });
  bus.subscribe((e) => {
    if (e.type === 'worker.state' && e.state === 'online') online.add(e.worker);
    if (e.type === 'job.finished') {
      if (e.job.status !== 'completed') failed++;
      if (++finished === ckpts.length) allDone();
    }
  });
  try {
    await engine.start(drivers);
    while (online.size < WORKERS) await new Promise((r) => setTimeout(r, 20));
    // Capabilities are read when a worker comes online: wait until routing knows every worker's models.
    await new Promise((r) => setTimeout(r, 200));
    const t0 = performance.now();
    await engine.enqueueMany(
      ckpts.map((ckpt, i) => {
        const prompt = t2iPrompt(3, i) as Record<string, { inputs: Record<string, unknown> }>;
        prompt['4']!.inputs.ckpt_name = ckpt;
        return { prompt: prompt as PromptGraph };
      }),
    );
    await done;
    const ms = performance.now() - t0;
    if (failed) throw new Error(`${failed} jobs did not complete`);
    let loads = 0;
    for (const s of sims) loads += JSON.parse((await send('GET', `${s.url}/sim/models`)).text).loads;
    return { loads, ms };
  } finally {
    await engine.stop();
    await store.close();
    for (const s of sims) await s.close();
    dir.remove();
  }
}

const ckpts = checkpointsOf(JOBS);
const without = await run(false, ckpts);
const withAffinity = await run(true, ckpts);
console.log(
  `affinity: ${JOBS} jobs, ${CHECKPOINTS.length} checkpoints, ${WORKERS} workers, ${LOAD_MS} ms a checkpoint load`,
);
console.log(
  `  without affinity: ${without.loads} loads, ${fmt(without.ms / 1000)} s   with: ${withAffinity.loads} loads, ${fmt(withAffinity.ms / 1000)} s`,
);
console.log(
  `  loads without/with ${fmt(without.loads / Math.max(1, withAffinity.loads))}x, time without/with ${fmt(without.ms / withAffinity.ms)}x`,
);
process.exit(0);
