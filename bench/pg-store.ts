/**
 * The PostgreSQL store beside the SQLite one, in the same run, through the
 * JobStore interface: enqueue throughput (single-job calls from many
 * callers, group-committed; and 500-job calls), claims per second (16
 * concurrent claimers, claimNext then finishAndClaim), and `/api/jobs`-style
 * listing latency (listJobs, limit 50) at BENCH_PG_JOBS stored jobs (default
 * 100,000): newest first, one status, a deep keyset page, a common and a rare
 * word. PostgreSQL: COMFY_QUEUE_TEST_PG (default the local test database), in
 * a schema of its own, dropped at the end. `npm run bench -- pg-store`.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { NewJob, PromptGraph } from '../src/domain/job.js';
import type { JobQuery } from '../src/store/job-query.js';
import type { JobStore } from '../src/store/job-store.js';
import { openStore } from '../src/store/open-store.js';
import { fmt, percentile } from './lib.js';

const PG_URL = process.env.COMFY_QUEUE_TEST_PG || 'postgres://postgres@127.0.0.1:5432/test';
const LISTED = Number(process.env.BENCH_PG_JOBS ?? 100_000);
const ENQUEUE_CALLS = 4_000;
const CLAIMERS = 16;
const REQUESTS = 200;
const T0 = 1_700_000_000_000;

const SYLLABLES = ['ka', 'lo', 'mi', 'ru', 'se', 'ta', 'vo', 'ne', 'pi', 'du'];
// Word r appears in about 1/(r+1) of the prompts (a Zipf-like spread).
const word = (r: number) =>
  `${SYLLABLES[r % 10]}${SYLLABLES[Math.floor(r / 10) % 10]}${SYLLABLES[Math.floor(r / 100) % 10]}x`;

function promptOf(i: number): PromptGraph {
  let a = (i * 2654435761) >>> 0;
  const rnd = () => {
    a = (a * 1103515245 + 12345) >>> 0;
    return a / 4294967296;
  };
  const words: string[] = [];
  for (let k = 0; k < 8; k++) words.push(word(Math.min(999, Math.floor(1 / (rnd() + 0.001)) - 1)));
  return {
    '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'sd_xl_base_1.0.safetensors' } },
    '6': { class_type: 'CLIPTextEncode', inputs: { text: `a photo of ${words.join(' ')}`, clip: ['4', 1] } },
    '3': { class_type: 'KSampler', inputs: { seed: 100_000 + i, steps: 20, model: ['4', 0] } },
  };
}

function newJob(i: number): NewJob {
  return {
    id: randomUUID(),
    name: null,
    prompt: promptOf(i),
    workflow: null,
    extraData: {},
    sensitive: null,
    clientId: null,
    priority: 0,
    front: false,
    createdAt: T0 + i * 200,
    targets: null,
    requeuedFrom: null,
  };
}

interface Subject {
  name: string;
  /** an empty store in a database (file, schema) of its own */
  open(): Promise<JobStore>;
  /** marks every job but the newest 0.5 % finished, on three workers (SQL of the subject's own) */
  finishAll(): Promise<void>;
  cleanup(): Promise<void>;
}

function sqliteSubject(): Subject {
  const dir = mkdtempSync(join(tmpdir(), 'bench-pg-store-'));
  let n = 0;
  let file = '';
  return {
    name: 'sqlite',
    open: () => {
      file = join(dir, `queue-${n++}.sqlite3`);
      return openStore({ kind: 'sqlite', file });
    },
    async finishAll() {
      const db = new Database(file);
      const keep = Math.ceil(LISTED * 0.005);
      db.prepare(
        `UPDATE jobs SET status = CASE abs(rowid) % 10 WHEN 0 THEN 'failed' ELSE 'completed' END,
           worker = 'w' || (rowid % 3), started_at = created_at + 100, ended_at = created_at + 100 + (rowid % 50) * 100
         WHERE rowid <= (SELECT max(rowid) FROM jobs) - ? AND status = 'pending'`,
      ).run(keep);
      db.close();
    },
    async cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgresSubject(): Subject {
  let n = 0;
  let schema = '';
  const schemas: string[] = [];
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  return {
    name: 'postgres',
    open: () => {
      schema = `bench_${process.pid}_${n++}`;
      schemas.push(schema);
      const url = new URL(PG_URL);
      url.searchParams.set('schema', schema);
      return openStore({ kind: 'postgres', url: url.toString(), poolSize: 20 });
    },
    async finishAll() {
      const keep = Math.ceil(LISTED * 0.005);
      await admin(async (c) => {
        await c.query(`SET search_path = "${schema}"`);
        // One statement over every row: the per-row count trigger would update one counter row
        // 100,000 times in one transaction; the counts are recomputed once instead.
        await c.query('BEGIN');
        await c.query('ALTER TABLE jobs DISABLE TRIGGER jobs_count_status');
        await c.query(
          `WITH ranked AS (SELECT id, row_number() OVER (ORDER BY created_at DESC) AS r FROM jobs WHERE status = 'pending')
           UPDATE jobs SET status = CASE WHEN hashtext(jobs.id) % 10 = 0 THEN 'failed' ELSE 'completed' END,
             worker = 'w' || abs(hashtext(jobs.id) % 3), started_at = created_at + 100,
             ended_at = created_at + 100 + abs(hashtext(jobs.id) % 50) * 100
           FROM ranked WHERE ranked.id = jobs.id AND ranked.r > $1`,
          [keep],
        );
        await c.query('ALTER TABLE jobs ENABLE TRIGGER jobs_count_status');
        await c.query('UPDATE job_counts SET n = 0');
        await c.query(
          `UPDATE job_counts SET n = c.n FROM (SELECT status, count(*) AS n FROM jobs GROUP BY status) c
           WHERE job_counts.status = c.status AND job_counts.slot = 0`,
        );
        await c.query('COMMIT');
        await c.query('ANALYZE');
      });
    },
    async cleanup() {
      await admin(async (c) => {
        for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
      });
    },
  };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

async function enqueueFigures(store: JobStore): Promise<{ single: number; batched: number }> {
  let i = 10_000_000;
  // Single-job calls, 200 callers at a time: what many HTTP submissions do.
  const single = await timed(async () => {
    for (let done = 0; done < ENQUEUE_CALLS; done += 200)
      await Promise.all(Array.from({ length: 200 }, () => store.enqueue([newJob(i++)])));
  });
  const batched = await timed(async () => {
    for (let done = 0; done < ENQUEUE_CALLS * 2; done += 500)
      await store.enqueue(Array.from({ length: 500 }, () => newJob(i++)));
  });
  return { single: ENQUEUE_CALLS / single, batched: (ENQUEUE_CALLS * 2) / batched };
}

async function claimFigures(store: JobStore): Promise<{ claims: number; cycles: number }> {
  const pending = (await store.counts()).pending;
  let n = 0;
  // claimNext until the queue is half empty, 16 claimers at once.
  const half = Math.min(3_000, Math.floor(pending / 2));
  const claims = await timed(() =>
    Promise.all(
      Array.from({ length: CLAIMERS }, async (_, w) => {
        while (n < half) {
          n++;
          await store.claimNext(`w${w}`, Date.now(), Date.now() + 60_000);
        }
      }),
    ),
  );
  // Each claimer finishes what it holds and claims the next in one transaction, the dispatch path.
  let cycles = 0;
  const held = await store.listInProgress();
  const byWorker = new Map<string, { id: string; attempts: number }[]>();
  for (const j of held) byWorker.set(j.worker!, [...(byWorker.get(j.worker!) ?? []), j]);
  const cycleTime = await timed(() =>
    Promise.all(
      [...byWorker].map(async ([worker, jobs]) => {
        let current = jobs.pop();
        while (current && cycles < half) {
          cycles++;
          const r = await store.finishAndClaim(
            current.id,
            { status: 'completed', endedAt: Date.now() },
            worker,
            { now: Date.now(), leaseUntil: Date.now() + 60_000 },
            current.attempts,
          );
          current = r.next ?? jobs.pop();
        }
      }),
    ),
  );
  return { claims: half / claims, cycles: cycles / cycleTime };
}

async function populate(store: JobStore, subject: Subject): Promise<void> {
  for (let i = 0; i < LISTED; i += 1_000)
    await store.enqueue(Array.from({ length: Math.min(1_000, LISTED - i) }, (_, k) => newJob(i + k)));
  await subject.finishAll();
}

async function listingFigures(store: JobStore): Promise<[string, number, number][]> {
  const deep = await store.listJobs({ limit: 1, offset: Math.floor(LISTED / 2), countTotal: false });
  const cursor = deep.jobs[0] ? { value: deep.jobs[0].createdAt, id: deep.jobs[0].id } : null;
  const queries: [string, JobQuery][] = [
    ['newest 50, with total', { limit: 50 }],
    ['completed, newest 50', { statuses: ['completed'], limit: 50 }],
    ['keyset page half-way', { limit: 50, after: cursor, countTotal: false }],
    ['text: a common word', { text: word(0), limit: 50, countTotal: false }],
    ['text: a rare word', { text: word(700), limit: 50, countTotal: false }],
    ['text + total', { text: word(3), limit: 50 }],
  ];
  const out: [string, number, number][] = [];
  for (const [label, q] of queries) {
    const times: number[] = [];
    for (let k = 0; k < REQUESTS; k++) {
      const t = performance.now();
      await store.listJobs(q);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    out.push([label, percentile(times, 50), percentile(times, 99)]);
  }
  return out;
}

const results = new Map<string, Record<string, string>>();
for (const subject of [sqliteSubject(), postgresSubject()]) {
  const row: Record<string, string> = {};
  try {
    const store = await subject.open();
    try {
      const e = await enqueueFigures(store);
      row['enqueue, 1-job calls (jobs/s)'] = fmt(e.single, 0);
      row['enqueue, 500-job calls (jobs/s)'] = fmt(e.batched, 0);
      const c = await claimFigures(store);
      row[`claimNext, ${CLAIMERS} claimers (claims/s)`] = fmt(c.claims, 0);
      row['finishAndClaim (jobs/s)'] = fmt(c.cycles, 0);
    } finally {
      await store.close();
    }
    const listed = await subject.open();
    try {
      const t = performance.now();
      await populate(listed, subject);
      row[`stored ${LISTED} jobs in (s)`] = fmt((performance.now() - t) / 1000, 1);
      for (const [label, p50, p99] of await listingFigures(listed))
        row[`listJobs ${label}: p50 / p99 (ms)`] = `${fmt(p50)} / ${fmt(p99)}`;
    } finally {
      await listed.close();
    }
  } finally {
    await subject.cleanup();
  }
  results.set(subject.name, row);
  console.log(`${subject.name} done`);
}

const labels = [...(results.get('sqlite') ? Object.keys(results.get('sqlite')!) : [])];
const width = Math.max(...labels.map((l) => l.length));
console.log(`\n${''.padEnd(width)}  ${'sqlite'.padStart(16)}  ${'postgres'.padStart(16)}`);
for (const l of labels)
  console.log(
    `${l.padEnd(width)}  ${(results.get('sqlite')?.[l] ?? '').padStart(16)}  ${(results.get('postgres')?.[l] ?? '').padStart(16)}`,
  );
