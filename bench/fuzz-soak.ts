/**
 * The fuzz suite's random requests (test/api/fuzz.test.ts), run longer and
 * concurrently over real HTTP against a server with two simulated workers:
 * counts answers by status, latency percentiles, and every answer that breaks
 * the rules (a 5xx of comfy-queue's own, a 4xx out of shape); exits 1 if any.
 * Bounded by count and time: FUZZ_SOAK_REQUESTS (default 20000),
 * FUZZ_SOAK_SECONDS (default 60), FUZZ_SOAK_SEED (default: random, printed).
 * `npm run bench -- fuzz-soak`.
 */
import fc from 'fast-check';
import { routesOf } from '../src/api/route-index.js';
import { DEFAULT_CONFIG, startServer } from '../src/server.js';
import { type FuzzRequest, fuzzRequest, send, violation } from '../test/helpers/fuzz-requests.js';
import { t2iPrompt, tempDir } from '../test/helpers/harness.js';
import { fmt, percentile, send as plainSend } from './lib.js';

const MAX_REQUESTS = Number(process.env.FUZZ_SOAK_REQUESTS ?? 20_000);
const MAX_SECONDS = Number(process.env.FUZZ_SOAK_SECONDS ?? 60);
const SEED = Number(process.env.FUZZ_SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31));
const CONCURRENCY = 8;
const BATCH = 500;

const dir = tempDir('cq-fuzz-soak-');
const server = await startServer({
  ...DEFAULT_CONFIG,
  port: 0,
  dataDir: dir.path,
  simulate: 2,
  simStepMs: 1,
  pollMs: 300,
});
const ids: string[] = [];
for (let i = 0; i < 4; i++) {
  const r = await plainSend('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(1, i) });
  ids.push(JSON.parse(r.text).prompt_id);
}

const routes = routesOf(server.app);
const arb = fuzzRequest(routes, ids, new URL(server.url).origin);
const statuses = new Map<number, number>();
const latencies: number[] = [];
const violations: string[] = [];
const deadline = Date.now() + MAX_SECONDS * 1000;
const started = performance.now();
let sent = 0;
let batch = 0;

console.log(
  `fuzz-soak: seed ${SEED}, ${routes.length} routes, at most ${MAX_REQUESTS} requests or ${MAX_SECONDS} s`,
);
while (sent < MAX_REQUESTS && Date.now() < deadline) {
  const requests = fc.sample(arb, { seed: SEED + batch++, numRuns: Math.min(BATCH, MAX_REQUESTS - sent) });
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < requests.length && Date.now() < deadline) {
      const r: FuzzRequest = requests[next++]!;
      const t0 = performance.now();
      try {
        const a = await send(server.url, r);
        latencies.push(performance.now() - t0);
        statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
        const v = violation(routes, r, a);
        if (v) violations.push(`${r.method} ${r.path} → ${v}`);
      } catch (err) {
        violations.push(`${r.method} ${r.path} → ${(err as Error).message}`);
      }
      sent++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
}
const seconds = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);

console.log(
  `requests      ${sent} in ${fmt(seconds, 1)} s (${fmt(sent / seconds, 0)}/s, ${CONCURRENCY} at a time)`,
);
console.log(
  `latency ms    p50 ${fmt(percentile(latencies, 50))}  p99 ${fmt(percentile(latencies, 99))}  max ${fmt(latencies.at(-1) ?? Number.NaN)}`,
);
console.log(
  `statuses      ${[...statuses]
    .sort((a, b) => a[0] - b[0])
    .map(([s, n]) => `${s}×${n}`)
    .join('  ')}`,
);
console.log(`violations    ${violations.length}`);
for (const v of violations.slice(0, 20)) console.log(`  ${v.slice(0, 400)}`);
const rss = process.memoryUsage().rss / 2 ** 20;
console.log(`memory        ${fmt(rss, 0)} MiB resident at the end`);

await server.close();
dir.remove();
process.exit(violations.length ? 1 : 0);
