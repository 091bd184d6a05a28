/**
 * Reading the queue's head, as the scheduler does at every finish: the first
 * 10 pending jobs of a queue of BENCH_HEAD_JOBS (default 500) jobs whose graph
 * has 60 nodes (about 27 KB) and whose extra data carries the UI workflow
 * (about 15 KB), on the server's reader (a threaded SQLite store, synchronous=FULL).
 * Printed: the read just after a finish moved the head by one job (one job not
 * read before), and the same read again. `npm run bench -- queue-head`.
 */
import { randomUUID } from 'node:crypto';
import type { PromptGraph } from '../src/domain/job.js';
import { buildNewJob } from '../src/engine/new-job.js';
import { openStore } from '../src/store/open-store.js';
import { tempDir } from '../test/helpers/harness.js';
import { fmt, percentile } from './lib.js';

const JOBS = Number(process.env.BENCH_HEAD_JOBS ?? 500);
const READS = Math.min(400, JOBS - 20);

function graph(seed: number): PromptGraph {
  const p: PromptGraph = {};
  for (let i = 1; i <= 60; i++) {
    const up = [String(Math.max(1, i - 1)), 0];
    p[String(i)] = {
      class_type: i === 60 ? 'SaveImage' : 'KSampler',
      inputs: {
        seed: seed + i,
        steps: 20,
        cfg: 7.5,
        sampler_name: 'euler',
        scheduler: 'normal',
        denoise: 1,
        model: up,
        positive: 'a long prompt text, '.repeat(10),
        negative: 'blurry',
        filename_prefix: 'bench',
      },
      _meta: { title: `Node ${i}` },
    };
  }
  return p;
}

const workflow = {
  id: randomUUID(),
  nodes: Array.from({ length: 60 }, (_, i) => ({
    id: i,
    type: 'KSampler',
    pos: [i * 10, i * 20],
    size: [300, 200],
    widgets_values: [i, 'fixed', 20, 7.5, 'euler', 'normal', 1],
    inputs: [{ name: 'model', type: 'MODEL', link: i }],
    outputs: [{ name: 'LATENT', type: 'LATENT', links: [i + 1] }],
  })),
  links: Array.from({ length: 60 }, (_, i) => [i, i, 0, i + 1, 0, 'MODEL']),
};

const dir = tempDir('cq-head-');
const store = await openStore({ kind: 'sqlite', file: `${dir.path}/q.sqlite3` });
try {
  const t0 = Date.now();
  const jobs = Array.from({ length: JOBS }, (_, i) =>
    buildNewJob({ prompt: graph(i), extraData: { extra_pnginfo: { workflow } } }, t0 + i, randomUUID),
  );
  await store.enqueue(jobs);
  const afterFinish: number[] = [];
  const again: number[] = [];
  let running: string | null = null;
  for (let i = 0; i < READS; i++) {
    let t = performance.now();
    const head = await store.listPending(10);
    afterFinish.push(performance.now() - t);
    t = performance.now();
    await store.listPending(10);
    again.push(performance.now() - t);
    const next = head[0]!.id;
    const now = Date.now();
    const lease = { now, leaseUntil: now + 60_000, jobId: next };
    if (running)
      await store.finishAndClaim(running, { status: 'completed', endedAt: now, outputs: {} }, 'w1', lease);
    else await store.claimJob(next, 'w1', now, now + 60_000);
    running = next;
  }
  for (const xs of [afterFinish, again]) xs.sort((a, b) => a - b);
  console.log(`queue head: listPending(10) of ${JOBS} jobs with 60-node graphs, ${READS} reads`);
  console.log(
    `  after a finish: p50 ${fmt(percentile(afterFinish, 50), 3)} ms  p99 ${fmt(percentile(afterFinish, 99), 3)} ms`,
  );
  console.log(
    `  read again:     p50 ${fmt(percentile(again, 50), 3)} ms  p99 ${fmt(percentile(again, 99), 3)} ms`,
  );
} finally {
  await store.close();
  dir.remove();
}
