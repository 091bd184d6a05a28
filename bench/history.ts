/**
 * History: GET /api/pqueue/history page latency (limit 50, one client,
 * keep-alive) over BENCH_HISTORY_JOBS stored jobs (default 1,000,000): no
 * filter, a status filter, a date range, text queries (a rare, a middling and
 * a common word, a seed), a worker and a deep cursor page; thumbnail
 * throughput for 1024×1024 outputs; the database size per 10,000 jobs with
 * their thumbnails. `npm run bench -- history`; BENCH_HISTORY_SEED_CACHE=DIR
 * keeps the 1,000,000-job store for the next run.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { shrinkToPng } from '../src/media/thumbnail.js';
import { DEFAULT_CONFIG, startServer } from '../src/server.js';
import { fmt, percentile, seededFile, send } from './lib.js';
import { populate, rng, T0, word } from './lib-history.js';

const N = Number(process.env.BENCH_HISTORY_JOBS ?? 1_000_000);
const REQUESTS = 300;

async function timeGets(url: string): Promise<{ p50: number; p99: number; rows: number }> {
  let rows = 0;
  for (let i = 0; i < 10; i++) await send('GET', url);
  const lat: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const t0 = performance.now();
    const r = await send('GET', url);
    lat.push(performance.now() - t0);
    if (r.status !== 200) throw new Error(`${url}: ${r.status} ${r.text.slice(0, 200)}`);
    if (i === 0) rows = (JSON.parse(r.text) as { jobs: unknown[] }).jobs.length;
  }
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99), rows };
}

async function pages(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cq-bench-history-'));
  try {
    const t0 = performance.now();
    await seededFile(
      join(dir, 'comfy-queue.sqlite3'),
      `history-${N}.sqlite3`,
      process.env.BENCH_HISTORY_SEED_CACHE,
      (f) => populate(f, N),
    );
    console.log(`history: ${N} jobs stored in ${fmt((performance.now() - t0) / 1000, 1)} s`);
    const server = await startServer({
      ...DEFAULT_CONFIG,
      port: 0,
      dataDir: dir,
      comfyUrls: ['http://127.0.0.1:9'],
      offlineTimeoutMs: 3_600_000,
    });
    try {
      await server.engine.pause();
      const base = `${server.url}/api/pqueue/history?limit=50`;
      const mid = T0 + Math.floor(N / 2) * 200;
      const deep = JSON.parse((await send('GET', `${base}&until=${mid}`)).text) as { next_cursor: string };
      const cases: [string, string][] = [
        ['no filter (created_at desc)', base],
        ['status=failed', `${base}&status=failed`],
        [
          'date range (one day)',
          `${base}&since=${new Date(mid).toISOString()}&until=${new Date(mid + 86_400_000).toISOString()}`,
        ],
        ['text: rare word', `${base}&q=${word(900)}`],
        ['text: middling word', `${base}&q=${word(40)}`],
        ['text: common word', `${base}&q=${word(0)}`],
        ['text: two words', `${base}&q=${word(3)}%20${word(7)}`],
        ['text: a seed', `${base}&q=${100_000 + Math.floor(N / 3)}`],
        ['text + status=failed', `${base}&q=${word(20)}&status=failed`],
        ['text: two words, status=cancelled', `${base}&q=${word(3)}%20${word(7)}&status=cancelled`],
        ['text: a prefix of common words', `${base}&q=${word(0).slice(0, 4)}`],
        ['text: one letter', `${base}&q=a`],
        ['text: common word, by duration', `${base}&q=${word(0)}&sort=execution_duration`],
        ['worker=w2', `${base}&worker=w2`],
        ['flagged=true', `${base}&flagged=true`],
        ['sort=execution_duration desc', `${base}&sort=execution_duration`],
        ['deep cursor page (created_at desc)', `${base}&cursor=${deep.next_cursor}`],
      ];
      console.log(`GET /api/pqueue/history, limit 50, over ${N} jobs (ms, one client, keep-alive):`);
      for (const [label, url] of cases) {
        const r = await timeGets(url);
        console.log(
          `  ${label.padEnd(34)} p50 ${fmt(r.p50).padStart(6)}  p99 ${fmt(r.p99).padStart(6)}  (${r.rows} rows)`,
        );
      }
    } finally {
      await server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A 1024×1024 render stand-in: smooth gradients with grain, as a diffusion output has. */
async function render(i: number): Promise<Buffer> {
  const size = 1024;
  const px = Buffer.alloc(size * size * 3);
  const rnd = rng(i);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const o = (y * size + x) * 3;
      const g = Math.floor(rnd() * 24);
      px[o] = ((x + i * 37) % 256) ^ g;
      px[o + 1] = ((y * 3) / 4 + g) & 0xff;
      px[o + 2] = (Math.floor(128 + 100 * Math.sin((x + y) / 90)) + g) & 0xff;
    }
  return sharp(px, { raw: { width: size, height: size, channels: 3 } })
    .png()
    .toBuffer();
}

async function thumbnails(): Promise<Buffer[]> {
  const inputs = await Promise.all(Array.from({ length: 40 }, (_, i) => render(i)));
  const made: Buffer[] = [];
  for (const concurrency of [1, 2]) {
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < inputs.length) {
          const t = await shrinkToPng(inputs[next++]!);
          if (concurrency === 1) made.push(t.png);
        }
      }),
    );
    const s = (performance.now() - t0) / 1000;
    console.log(
      `thumbnails of 1024×1024 PNG outputs, ${concurrency} at a time: ${fmt(inputs.length / s, 1)} images/s`,
    );
  }
  const avg = made.reduce((n, b) => n + b.length, 0) / made.length;
  console.log(`  thumbnail size: ${fmt(avg / 1024, 1)} KiB on average (256×256 palette PNG)`);
  return made;
}

async function sizePer10k(thumbs: Buffer[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cq-bench-history-size-'));
  try {
    const file = join(dir, 'comfy-queue.sqlite3');
    await populate(file, 10_000);
    const db = new Database(file);
    const ids = db.prepare(`SELECT id FROM jobs WHERE status = 'completed'`).all() as { id: string }[];
    const put = db.prepare(
      'INSERT INTO thumbnails (job_id, png, width, height, bytes, created_at) VALUES (?, ?, 256, 256, ?, 0)',
    );
    db.transaction(() => {
      ids.forEach(({ id }, i) => {
        const png = thumbs[i % thumbs.length]!;
        put.run(id, png, png.length);
      });
    })();
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    const bytes = statSync(file).size;
    console.log(
      `store size per 10,000 jobs (${ids.length} with thumbnails): ${fmt(bytes / 1024 / 1024, 1)} MiB`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const made = await thumbnails();
await sizePer10k(made);
await pages();
