/**
 * Memory: the server's resident memory (RSS, /proc/<pid>/status) with
 * BENCH_MEMORY_STORED finished jobs in its store (default 1,000,000) and
 * BENCH_MEMORY_CLIENTS event-websocket clients connected (default 100), while
 * BENCH_MEMORY_JOBS zero-step jobs (default 100,000) run through one
 * simulator, the backlog kept near 1,000. Target: under 150 MB, and flat.
 * Printed: RSS before the soak, at every tenth of it, its highest, and after
 * 10 s idle.
 *
 *   npm run bench -- memory      (BENCH_MEMORY_SEED_CACHE=DIR keeps the seeded store for the next run)
 */
import { join } from 'node:path';
import { EventClient } from '../test/helpers/event-client.js';
import { spawnServe, spawnSim, tempDir } from '../test/helpers/harness.js';
import { fmt, rssMb, runConcurrent, seededFile, send, tinyPrompt } from './lib.js';
import { populate } from './lib-history.js';

const STORED = Number(process.env.BENCH_MEMORY_STORED ?? 1_000_000);
const JOBS = Number(process.env.BENCH_MEMORY_JOBS ?? 100_000);
const CLIENTS = Number(process.env.BENCH_MEMORY_CLIENTS ?? 100);
const SEED_CACHE = process.env.BENCH_MEMORY_SEED_CACHE;
const BACKLOG = 1_000;
const DB = 'comfy-queue.sqlite3';

/** Jobs pending or running, as ComfyUI's `GET /prompt` says it. */
async function remaining(url: string): Promise<number> {
  const r = await send('GET', `${url}/prompt`);
  return (JSON.parse(r.text) as { exec_info: { queue_remaining: number } }).exec_info.queue_remaining;
}

const data = tempDir('cq-bench-memory-');
const sim = await spawnSim(0, ['--step-ms', '0']);
try {
  await seededFile(join(data.path, DB), `history-${STORED}.sqlite3`, SEED_CACHE, (f) => populate(f, STORED));
  const server = await spawnServe(['--data', data.path, '--comfy', sim.url, '--worker-capacity', '4']);
  const pid = server.proc.pid!;
  try {
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => EventClient.connect(server.url)));
    await new Promise((r) => setTimeout(r, 2_000));
    const samples: { done: number; rss: number }[] = [{ done: 0, rss: rssMb(pid) }];
    let highest = samples[0]!.rss;
    let sent = 0;
    let nextSample = JOBS / 10;
    while (sent < JOBS || (await remaining(server.url)) > 0) {
      const left = await remaining(server.url);
      const done = sent - left;
      highest = Math.max(highest, rssMb(pid));
      if (done >= nextSample) {
        samples.push({ done, rss: rssMb(pid) });
        nextSample += JOBS / 10;
      }
      for (const c of clients) c.received.length = 0;
      const room = Math.min(BACKLOG - left, JOBS - sent);
      if (room > 0) {
        const first = sent;
        sent += room;
        await runConcurrent(room, 20, async (i) => {
          const r = await send('POST', `${server.url}/api/pqueue/jobs`, { prompt: tinyPrompt(first + i) });
          if (r.status !== 201) throw new Error(`enqueue: ${r.status} ${r.text}`);
        });
      } else await new Promise((r) => setTimeout(r, 200));
    }
    samples.push({ done: JOBS, rss: rssMb(pid) });
    await new Promise((r) => setTimeout(r, 10_000));
    const idle = rssMb(pid);
    await Promise.all(clients.map((c) => c.close()));
    console.log(
      `memory: ${STORED} jobs stored, ${CLIENTS} event clients, ${JOBS} zero-step jobs through one simulator`,
    );
    console.log(`  RSS (MB) by jobs done: ${samples.map((s) => `${s.done}: ${fmt(s.rss, 0)}`).join(', ')}`);
    console.log(
      `  highest ${fmt(highest, 0)} MB (target < 150 MB); 10 s after the last job ${fmt(idle, 0)} MB`,
    );
  } finally {
    await server.kill('SIGTERM');
  }
} finally {
  await sim.kill('SIGTERM');
  data.remove();
}
process.exit(0);
