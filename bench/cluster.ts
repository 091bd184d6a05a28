/**
 * Several servers on one PostgreSQL: enqueue throughput and end-to-end jobs
 * per second (near-zero simulated jobs) with 1 server and with 3 servers
 * sharing the same workers, in the same run. Jobs are enqueued round-robin
 * to the servers while the queue is paused (enqueue alone), then the queue is
 * resumed and drained (claims, dispatch, finish, events between servers).
 *
 *   BENCH_CLUSTER_JOBS (default 3000), BENCH_CLUSTER_WORKERS (default 6),
 *   BENCH_CLUSTER_SERVERS (default "1,3"), COMFY_QUEUE_TEST_PG (the database)
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type ChildServer, spawnCli, spawnServe, spawnSim, tempDir } from '../test/helpers/harness.js';
import { fmt, runConcurrent, send, tinyPrompt } from './lib.js';

const JOBS = Number(process.env.BENCH_CLUSTER_JOBS ?? 3_000);
const WORKERS = Number(process.env.BENCH_CLUSTER_WORKERS ?? 6);
const SERVERS = (process.env.BENCH_CLUSTER_SERVERS ?? '1,3').split(',').map(Number);
const PG_URL = process.env.COMFY_QUEUE_TEST_PG || 'postgres://postgres@127.0.0.1:5432/test';

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function run(servers: number): Promise<{ enqueue: number; drain: number }> {
  const schema = `bench_cluster_${randomBytes(4).toString('hex')}`;
  const u = new URL(PG_URL);
  u.searchParams.set('schema', schema);
  const db = u.toString();
  const procs: ChildServer[] = [];
  const dirs: { remove(): void }[] = [];
  try {
    const migrate = await spawnCli(['migrate', '--db', db], /database ready/);
    await migrate.kill('SIGTERM');
    const sims = await Promise.all(Array.from({ length: WORKERS }, () => spawnSim(0, ['--step-ms', '0'])));
    procs.push(...sims);
    const urls: string[] = [];
    for (let s = 0; s < servers; s++) {
      const data = tempDir('cq-bench-');
      dirs.push(data);
      const mine = sims
        .filter((_, i) => i % servers === s)
        .flatMap((sim, k) => ['--comfy', `s${s}w${k}=${sim.url}`]);
      const server = await spawnServe(['--data', data.path, '--db', db, ...mine]);
      procs.push(server);
      urls.push(server.url);
    }
    // Every worker online before the clock starts.
    for (;;) {
      const r = JSON.parse((await send('GET', `${urls[0]}/api/farm/workers`)).text);
      if (r.workers.filter((w: { connection: string }) => w.connection === 'online').length === WORKERS)
        break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await send('POST', `${urls[0]}/api/pqueue/pause`);
    let t0 = performance.now();
    await runConcurrent(JOBS, 30, async (i) => {
      const r = await send('POST', `${urls[i % servers]}/api/pqueue/jobs`, { prompt: tinyPrompt(i) });
      if (r.status !== 201) throw new Error(`enqueue ${r.status}: ${r.text}`);
    });
    const enqueue = JOBS / ((performance.now() - t0) / 1000);
    t0 = performance.now();
    await send('POST', `${urls[servers - 1]}/api/pqueue/resume`);
    for (;;) {
      const q = JSON.parse((await send('GET', `${urls[0]}/api/pqueue?limit=1`)).text);
      if (q.counts.completed + q.counts.failed + q.counts.cancelled >= JOBS) {
        if (q.counts.completed !== JOBS) throw new Error(`not all completed: ${JSON.stringify(q.counts)}`);
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const drain = JOBS / ((performance.now() - t0) / 1000);
    return { enqueue, drain };
  } finally {
    for (const p of procs) await p.kill('SIGTERM');
    for (const d of dirs) d.remove();
    await admin((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
  }
}

console.log(`cluster: ${JOBS} near-zero jobs over ${WORKERS} simulated workers, one PostgreSQL`);
console.log('  servers | enqueue (jobs/s) | end to end (jobs/s)');
for (const n of SERVERS) {
  const r = await run(n);
  console.log(
    `  ${String(n).padStart(7)} | ${fmt(r.enqueue, 0).padStart(16)} | ${fmt(r.drain, 0).padStart(19)}`,
  );
}
process.exit(0);
