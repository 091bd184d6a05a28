/**
 * Enqueue: latency of single POST /api/pqueue/jobs at 50 concurrent clients,
 * and jobs/s, against a comfy-queue child process (synchronous=FULL store,
 * dispatch paused so only the enqueue path is measured).
 * Baseline in the same run: GET /api/pqueue/jobs/{id} of one job (a read
 * with no commit), to show what the commit costs.
 * Targets: p99 < 10 ms, > 5,000 jobs/s. Both the saturated figures (each client
 * sends its next request as soon as the last is answered) and the latency at
 * a rate of 2,000 jobs/s are printed.
 */
import { spawnServe, tempDir } from '../test/helpers/harness.js';
import { fmt, percentile, runConcurrent, send } from './lib.js';

const TOTAL = Number(process.env.BENCH_ENQUEUE_TOTAL ?? 20_000);
const CONCURRENCY = 50;

const data = tempDir('cq-bench-');
const server = await spawnServe(['--data', data.path, '--comfy', 'http://127.0.0.1:9']);
try {
  await send('POST', `${server.url}/api/pqueue/pause`);
  const prompt = {
    '1': { class_type: 'EmptyImage', inputs: { width: 512, height: 512, batch_size: 1, color: 0 } },
    '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'bench' } },
  };
  // warm-up
  await runConcurrent(1_000, CONCURRENCY, async () => {
    await send('POST', `${server.url}/api/pqueue/jobs`, { prompt });
  });
  let firstId = '';
  const t0 = performance.now();
  const lat = await runConcurrent(TOTAL, CONCURRENCY, async () => {
    const r = await send('POST', `${server.url}/api/pqueue/jobs`, { prompt });
    if (r.status !== 201) throw new Error(`enqueue answered ${r.status}: ${r.text}`);
    if (!firstId) firstId = JSON.parse(r.text).prompt_id;
  });
  const seconds = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);

  // The same 50 clients paced to 2,000 jobs/s in all: latency at a set rate, without saturation queueing.
  const PACED = 10_000;
  const RATE = 2_000;
  const paced: number[] = [];
  const tp = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, lane) => {
      for (let k = lane; k < PACED; k += CONCURRENCY) {
        const due = tp + (k * 1000) / RATE;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const t = performance.now();
        const r = await send('POST', `${server.url}/api/pqueue/jobs`, { prompt });
        if (r.status !== 201) throw new Error(`enqueue answered ${r.status}`);
        paced.push(performance.now() - t);
      }
    }),
  );
  paced.sort((a, b) => a - b);

  const readLat = await runConcurrent(TOTAL / 2, CONCURRENCY, async () => {
    await send('GET', `${server.url}/api/pqueue/jobs/${firstId}`);
  });
  readLat.sort((a, b) => a - b);

  console.log(`enqueue: ${TOTAL} POST /api/pqueue/jobs, ${CONCURRENCY} concurrent clients, synchronous=FULL`);
  console.log(
    `  latency p50 ${fmt(percentile(lat, 50))} ms  p99 ${fmt(percentile(lat, 99))} ms  max ${fmt(lat.at(-1)!)} ms`,
  );
  console.log(`  throughput ${fmt(TOTAL / seconds, 0)} jobs/s (target > 5000; p99 target < 10 ms)`);
  console.log(
    `  paced at ${RATE} jobs/s by the same ${CONCURRENCY} clients: p50 ${fmt(percentile(paced, 50))} ms  p99 ${fmt(percentile(paced, 99))} ms`,
  );
  console.log(
    `  baseline GET of one job: p50 ${fmt(percentile(readLat, 50))} ms  p99 ${fmt(percentile(readLat, 99))} ms` +
      `  → enqueue/read p99 ratio ${fmt(percentile(lat, 99) / percentile(readLat, 99))}`,
  );
} finally {
  await server.kill('SIGTERM');
  data.remove();
}
process.exit(0);
