/**
 * The ComfyUI drop-in: GET /api/jobs page latency (limit 50, created_at
 * desc; all jobs, the queue panel's status=pending,in_progress, status=completed,
 * a deep cursor page) at 10k, 100k and 1M stored jobs, and POST /prompt
 * through comfy-queue against straight to the simulator.
 * `npm run bench -- comfy-jobs` (BENCH_SIZES=10000,100000 to choose sizes).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DEFAULT_CONFIG, startServer } from '../src/server.js';
import { startSimulator } from '../src/sim/index.js';
import { openStore } from '../src/store/open-store.js';
import { fmt, percentile, send } from './lib.js';

const SIZES = (process.env.BENCH_SIZES ?? '10000,100000,1000000').split(',').map(Number);
const REQUESTS = 400;
const PROMPT = {
  '1': {
    class_type: 'FakeSampler',
    inputs: { seed: 1, steps: 1, width: 64, height: 64, step_seconds: 0, preview: false },
  },
  '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'b' } },
};

/** Fills a fresh database with `n` jobs: 0.5 % pending, the rest finished; 20 jobs share each create_time. */
async function populate(dir: string, n: number): Promise<void> {
  const file = join(dir, 'comfy-queue.sqlite3');
  const store = await openStore({ kind: 'sqlite', file }); // applies the migrations
  await store.close();
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const insert = db.prepare(
    `INSERT INTO jobs (id, prompt, workflow, extra_data, position, status, created_at, started_at, ended_at, outputs, worker)
     VALUES (?, ?, ?, '{}', ?, ?, ?, ?, ?, ?, 'w1')`,
  );
  const prompt = JSON.stringify(PROMPT);
  const statuses = ['completed', 'completed', 'completed', 'failed', 'cancelled'];
  const outputs = JSON.stringify({
    '2': { images: [{ filename: 'b_00001_.png', subfolder: '', type: 'output' }] },
  });
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const created = 1_700_000_000_000 + Math.floor(i / 20) * 1000;
      const pending = i % 200 === 0;
      const status = pending ? 'pending' : statuses[i % 5]!;
      insert.run(
        randomUUID(),
        prompt,
        i % 7 === 0 ? JSON.stringify({ id: `wf-${i % 13}` }) : null,
        i,
        status,
        created,
        pending ? null : created + 10,
        pending ? null : created + 10 + (i % 97) * 10,
        status === 'completed' ? outputs : null,
      );
    }
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

async function timeGets(url: string): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < 20; i++) await send('GET', url); // warm up
  const lat: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const t0 = performance.now();
    const r = await send('GET', url);
    lat.push(performance.now() - t0);
    if (r.status !== 200) throw new Error(`${url}: ${r.status} ${r.text.slice(0, 200)}`);
  }
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

async function jobsLatency(): Promise<void> {
  console.log('GET /api/jobs, limit 50, created_at desc (ms, one client, keep-alive):');
  console.log(
    '  jobs       | all p50 / p99   | pending,in_progress p50 / p99 | completed p50 / p99 | cursor page p50 / p99',
  );
  for (const n of SIZES) {
    const dir = mkdtempSync(join(tmpdir(), 'cq-bench-jobs-'));
    try {
      await populate(dir, n);
      const server = await startServer({
        ...DEFAULT_CONFIG,
        port: 0,
        dataDir: dir,
        comfyUrls: ['http://127.0.0.1:9'], // no worker: nothing is dispatched
        offlineTimeoutMs: 3_600_000,
      });
      try {
        await server.engine.pause();
        const base = `${server.url}/api/jobs?limit=50&sort_by=created_at&sort_order=desc`;
        const mid = JSON.parse((await send('GET', `${base}&offset=${Math.floor(n / 2)}`)).text) as {
          pagination: { next_cursor: string };
        };
        const all = await timeGets(base);
        const queue = await timeGets(`${base}&status=pending,in_progress`);
        const done = await timeGets(`${base}&status=completed`);
        const cursor = await timeGets(`${base}&after=${mid.pagination.next_cursor}`);
        console.log(
          `  ${String(n).padEnd(10)} | ${fmt(all.p50)} / ${fmt(all.p99)}     | ${fmt(queue.p50)} / ${fmt(queue.p99)}                   | ${fmt(done.p50)} / ${fmt(done.p99)}         | ${fmt(cursor.p50)} / ${fmt(cursor.p99)}`,
        );
      } finally {
        await server.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

async function promptRatio(): Promise<void> {
  const direct = await startSimulator({ stepMs: 0 });
  const behind = await startSimulator({ stepMs: 0 });
  const dir = mkdtempSync(join(tmpdir(), 'cq-bench-prompt-'));
  const server = await startServer({ ...DEFAULT_CONFIG, port: 0, dataDir: dir, comfyUrls: [behind.url] });
  try {
    const time = async (url: string) => {
      const lat: number[] = [];
      for (let i = 0; i < REQUESTS; i++) {
        const body = {
          prompt: { ...PROMPT, '1': { ...PROMPT['1'], inputs: { ...PROMPT['1'].inputs, seed: i } } },
        };
        const t0 = performance.now();
        const r = await send('POST', `${url}/prompt`, body);
        lat.push(performance.now() - t0);
        if (r.status !== 200) throw new Error(r.text);
      }
      lat.sort((a, b) => a - b);
      return { p50: percentile(lat, 50), p99: percentile(lat, 99) };
    };
    await time(direct.url); // warm-up of both
    await time(server.url);
    const a = await time(direct.url);
    const b = await time(server.url);
    console.log(`POST /prompt (ms, ${REQUESTS} sequential, synchronous=FULL):`);
    console.log(`  simulator direct  p50 ${fmt(a.p50)}  p99 ${fmt(a.p99)}`);
    console.log(`  via comfy-queue   p50 ${fmt(b.p50)}  p99 ${fmt(b.p99)}`);
    console.log(`  ratio             p50 ${fmt(b.p50 / a.p50)}x  p99 ${fmt(b.p99 / a.p99)}x`);
  } finally {
    await server.close();
    await direct.close();
    await behind.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await jobsLatency();
await promptRatio();
