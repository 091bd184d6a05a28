/**
 * A fast and a slow worker share equal jobs about as well as possible: the
 * split the farm chose would finish within 20 % of the best split, both
 * computed from the run times each worker showed (its /sim/executions). The
 * wall-clock makespan also holds the gaps between jobs, which a loaded
 * machine stretches at will, so it is reported, not asserted.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { type RunningSimulator, startSimulator } from '../../src/sim/index.js';
import {
  http,
  type SimExecution,
  simExecutions,
  startTestServer,
  t2iPrompt,
  until,
  waitForStatus,
} from '../helpers/harness.js';

const JOBS = 8;
const STEPS = 10;

async function submit(base: string, seed: number): Promise<string> {
  const r = await http('POST', `${base}/api/pqueue/jobs`, { prompt: t2iPrompt(STEPS, seed) });
  assert.equal(r.status, 201, r.text);
  return r.body.prompt_id as string;
}

async function setMode(base: string, id: string, mode: string): Promise<void> {
  const r = await http('PATCH', `${base}/api/farm/workers/${id}`, { mode });
  assert.equal(r.status, 200, r.text);
}

const runMs = (e: SimExecution) => e.end! - e.start;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The shortest makespan of `n` equal jobs over two workers taking `a` and `b` ms each. */
function bestMakespan(n: number, a: number, b: number): number {
  let best = Number.POSITIVE_INFINITY;
  for (let k = 0; k <= n; k++) best = Math.min(best, Math.max(k * a, (n - k) * b));
  return best;
}

const sims: RunningSimulator[] = [];
const servers: Awaited<ReturnType<typeof startTestServer>>[] = [];
after(async () => {
  for (const s of servers) await s.close();
  for (const s of sims) await s.close();
});

test('two workers at 10 and 40 ms a step split 8 equal jobs within 20 % of the best split (capacity 2)', async () => {
  const fast = await startSimulator({ stepMs: 10 });
  const slow = await startSimulator({ stepMs: 40 });
  sims.push(fast, slow);
  const cq = await startTestServer({ comfyUrls: [fast.url, slow.url], workerCapacity: 2, pollMs: 200 });
  servers.push(cq);
  await until(async () => {
    const list: { state: string; capabilities: unknown }[] = (await http('GET', `${cq.url}/api/farm/workers`))
      .body.workers;
    return list.length === 2 && list.every((w) => w.state === 'online' && w.capabilities) ? true : undefined;
  }, 'both workers ready');

  // One run of the workflow on each worker first: the farm learns how fast each one is.
  await setMode(cq.url, 'w2', 'paused');
  await waitForStatus(cq.url, await submit(cq.url, 1000), ['completed']);
  await setMode(cq.url, 'w1', 'paused');
  await setMode(cq.url, 'w2', 'active');
  await waitForStatus(cq.url, await submit(cq.url, 1001), ['completed']);
  await setMode(cq.url, 'w1', 'active');

  const ids: string[] = [];
  for (let i = 0; i < JOBS; i++) ids.push(await submit(cq.url, i));
  const done = [];
  for (const id of ids) done.push(await waitForStatus(cq.url, id, ['completed', 'failed']));
  for (const j of done) assert.equal(j.status, 'completed', JSON.stringify(j.error));

  const onFast = await simExecutions(fast.url);
  const onSlow = await simExecutions(slow.url);
  const mine = new Set(ids);
  const runs = [...onFast, ...onSlow].filter((e) => mine.has(e.prompt_id));
  assert.equal(runs.length, JOBS, 'each job ran once');
  const farm = Math.max(...runs.map((e) => e.end!)) - Math.min(...runs.map((e) => e.start));
  const a = mean(onFast.map(runMs));
  const b = mean(onSlow.map(runMs));
  const best = bestMakespan(JOBS, a, b);
  const kFast = onFast.filter((e) => mine.has(e.prompt_id)).length;
  const kSlow = onSlow.filter((e) => mine.has(e.prompt_id)).length;
  const chosen = Math.max(kFast * a, kSlow * b);
  assert.ok(
    chosen <= best * 1.2,
    `split fast/slow ${kFast}/${kSlow} takes ${chosen.toFixed(0)} ms, ${(chosen / best).toFixed(2)}× the best ${best.toFixed(0)} ms (runs ${a.toFixed(0)} / ${b.toFixed(0)} ms; wall-clock makespan ${farm.toFixed(0)} ms)`,
  );
});
