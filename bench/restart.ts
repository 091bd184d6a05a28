/**
 * Restart: time from process start to the first dispatch with 100,000
 * pending jobs in the store (target under 1 s). The first dispatch is read
 * from the simulator's own record of when it started the first prompt.
 * Baseline in the same run: the same start with an empty store.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { NewJob } from '../src/domain/job.js';
import { openStore } from '../src/store/open-store.js';
import { type ChildServer, simExecutions, spawnServe, spawnSim, tempDir } from '../test/helpers/harness.js';
import { fmt, tinyPrompt } from './lib.js';

const PENDING = Number(process.env.BENCH_RESTART_JOBS ?? 100_000);

async function seed(dir: string, n: number): Promise<void> {
  const store = await openStore({ kind: 'sqlite', file: join(dir, 'comfy-queue.sqlite3') });
  const now = Date.now();
  for (let i = 0; i < n; i += 5_000) {
    const batch: NewJob[] = [];
    for (let k = i; k < Math.min(n, i + 5_000); k++) {
      batch.push({
        id: randomUUID(),
        name: null,
        prompt: tinyPrompt(k) as NewJob['prompt'],
        workflow: null,
        extraData: {},
        sensitive: null,
        clientId: null,
        priority: 0,
        front: false,
        createdAt: now + k,
        targets: null,
        requeuedFrom: null,
      });
    }
    await store.enqueue(batch);
  }
  await store.close();
}

async function timeToFirstDispatch(dir: string): Promise<number> {
  const sim = await spawnSim(0, ['--step-ms', '0']);
  let server: ChildServer | null = null;
  try {
    const t0 = Date.now();
    server = await spawnServe(['--data', dir, '--comfy', sim.url]);
    for (;;) {
      const runs = await simExecutions(sim.url);
      if (runs.length > 0) return runs[0]!.start - t0;
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    await server?.kill('SIGTERM');
    await sim.kill('SIGTERM');
  }
}

const empty = tempDir('cq-bench-');
const full = tempDir('cq-bench-');
try {
  await seed(empty.path, 1);
  await seed(full.path, PENDING);
  const base = await timeToFirstDispatch(empty.path);
  const ms = await timeToFirstDispatch(full.path);
  console.log(`restart: process start → first dispatch`);
  console.log(`  1 pending job:        ${fmt(base, 0)} ms`);
  console.log(`  ${PENDING} pending jobs: ${fmt(ms, 0)} ms (target < 1000 ms); ratio ${fmt(ms / base)}`);
} finally {
  empty.remove();
  full.remove();
}
process.exit(0);
