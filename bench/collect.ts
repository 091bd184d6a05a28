/**
 * Output collection: files stored per second into a folder (each written,
 * fsynced, renamed and recorded in the store with synchronous=FULL) for
 * BENCH_COLLECT_JOBS completed jobs of one 256 KiB image each (default 2,000),
 * at 1 and 4 transfers at once; and the start-up sweep (`listUncollected`)
 * over BENCH_COLLECT_SWEEP completed jobs (default 100,000) that are all
 * collected already. `npm run bench -- collect`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { NewJob } from '../src/domain/job.js';
import { MemoryEventBus } from '../src/engine/events.js';
import { createLogger } from '../src/logging/logger.js';
import { OutputCollector } from '../src/outputs/collector.js';
import { FolderTarget } from '../src/outputs/folder-target.js';
import type { JobStore } from '../src/store/job-store.js';
import { openStore } from '../src/store/open-store.js';
import { fmt } from './lib.js';

const JOBS = Number(process.env.BENCH_COLLECT_JOBS ?? 2_000);
const SWEEP = Number(process.env.BENCH_COLLECT_SWEEP ?? 100_000);
const IMAGE = randomBytes(256 * 1024);
const OUTPUTS = { '9': { images: [{ filename: 'ComfyUI_00001_.png', subfolder: '', type: 'output' }] } };

function newJob(i: number): NewJob {
  return {
    id: randomUUID(),
    name: null,
    prompt: { '3': { class_type: 'KSampler', inputs: { seed: i } } },
    workflow: null,
    extraData: {},
    sensitive: null,
    clientId: null,
    priority: 0,
    front: false,
    createdAt: 1_700_000_000_000 + i,
    targets: null,
    requeuedFrom: null,
  };
}

async function completed(store: JobStore, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 1000) {
    const jobs = Array.from({ length: Math.min(1000, n - i) }, (_, k) => newJob(i + k));
    await store.enqueue(jobs);
    for (const j of jobs) {
      await store.claimJob(j.id, 'w1', 1, 2);
      await store.finish(j.id, { status: 'completed', endedAt: 10 + i, outputs: OUTPUTS });
      ids.push(j.id);
    }
  }
  return ids;
}

async function collectRun(concurrency: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cq-bench-collect-'));
  try {
    const store = await openStore({ kind: 'sqlite', file: join(dir, 'db.sqlite3'), synchronous: 'FULL' });
    await completed(store, JOBS);
    await store.setSetting('collect.since', '0');
    const target = new FolderTarget(join(dir, 'outputs'));
    await target.init();
    const collector = new OutputCollector(store, new MemoryEventBus(), {
      target,
      source: { open: async () => Readable.from([IMAGE]) },
      now: Date.now,
      random: Math.random,
      log: createLogger({ level: 'error', json: true }),
      concurrency,
    });
    const t0 = performance.now();
    await collector.start();
    await collector.idle();
    const s = (performance.now() - t0) / 1000;
    console.log(
      `collect ${JOBS} jobs × 256 KiB into a folder, ${concurrency} at once: ${fmt(s)} s, ${fmt(JOBS / s, 0)} jobs/s, ${fmt((JOBS * IMAGE.length) / s / 2 ** 20, 1)} MiB/s (stored ${collector.stored})`,
    );
    await collector.close();
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function sweepRun(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cq-bench-sweep-'));
  try {
    const store = await openStore({ kind: 'sqlite', file: join(dir, 'db.sqlite3'), synchronous: 'NORMAL' });
    const ids = await completed(store, SWEEP);
    for (const [i, id] of ids.entries()) {
      await store.saveCollection({
        jobId: id,
        endedAt: 10 + Math.floor(i / 1000) * 1000,
        state: 'stored',
        target: 'file:///x',
        files: [{ key: `jobs/${id}.png`, bytes: 1, filename: 'a.png', subfolder: '', type: 'output' }],
        attempts: 0,
        error: null,
        updatedAt: 1,
      });
    }
    const t0 = performance.now();
    const left = await store.listUncollected(0, null, 1000);
    console.log(
      `start-up sweep over ${SWEEP} completed jobs, all collected: ${fmt(performance.now() - t0)} ms (${left.length} left)`,
    );
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await collectRun(1);
await collectRun(4);
await sweepRun();
