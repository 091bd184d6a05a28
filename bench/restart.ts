/**
 * Restart: time from process start to the first dispatch with 100,000
 * pending jobs in the store (target under 1 s; BENCH_RESTART_JOBS for more).
 * The first dispatch is read from the simulator's own record of when it
 * started the first prompt. Baseline in the same run: the same start with a
 * store of one job. Also prints the server's resident memory at the first
 * dispatch and after 10 s with the queue paused (the re-validation pass over
 * every pending job runs then).
 *
 * Seeding 1,000,000 jobs takes minutes: with BENCH_RESTART_SEED_CACHE=DIR the
 * seeded store is kept in DIR and copied from there on the next run.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { NewJob } from '../src/domain/job.js';
import { openStore } from '../src/store/open-store.js';
import { type ChildServer, simExecutions, spawnServe, spawnSim, tempDir } from '../test/helpers/harness.js';
import { fmt, rssMb, seededFile, send, tinyPrompt } from './lib.js';

const PENDING = Number(process.env.BENCH_RESTART_JOBS ?? 100_000);
const SEED_CACHE = process.env.BENCH_RESTART_SEED_CACHE;
const DB = 'comfy-queue.sqlite3';

/** A store of `n` pending jobs in `file`. */
async function seed(file: string, n: number): Promise<void> {
  const store = await openStore({ kind: 'sqlite', file });
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

interface Start {
  ms: number;
  rssAtDispatch: number;
  rssPaused: number;
}

async function timeToFirstDispatch(dir: string): Promise<Start> {
  const sim = await spawnSim(0, ['--step-ms', '0']);
  let server: ChildServer | null = null;
  try {
    const t0 = Date.now();
    server = await spawnServe(['--data', dir, '--comfy', sim.url]);
    for (;;) {
      const runs = await simExecutions(sim.url);
      if (runs.length > 0) {
        const rssAtDispatch = rssMb(server.proc.pid);
        await send('POST', `${server.url}/api/pqueue/pause`);
        await new Promise((r) => setTimeout(r, 10_000));
        return { ms: runs[0]!.start - t0, rssAtDispatch, rssPaused: rssMb(server.proc.pid) };
      }
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
  await seed(join(empty.path, DB), 1);
  await seededFile(join(full.path, DB), `pending-${PENDING}.sqlite3`, SEED_CACHE, (f) => seed(f, PENDING));
  const base = await timeToFirstDispatch(empty.path);
  const big = await timeToFirstDispatch(full.path);
  const rss = (s: Start) =>
    `RSS ${fmt(s.rssAtDispatch, 0)} MB at dispatch, ${fmt(s.rssPaused, 0)} MB 10 s later`;
  console.log(`restart: process start → first dispatch`);
  console.log(`  1 pending job:        ${fmt(base.ms, 0)} ms; ${rss(base)}`);
  console.log(
    `  ${PENDING} pending jobs: ${fmt(big.ms, 0)} ms (target < 1000 ms); ratio ${fmt(big.ms / base.ms)}; ${rss(big)}`,
  );
} finally {
  empty.remove();
  full.remove();
}
process.exit(0);
