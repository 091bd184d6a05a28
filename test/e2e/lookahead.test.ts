import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startSimulator } from '../../src/sim/index.js';
import { http, simExecutions, startTestServer, t2iPrompt, until, waitForStatus } from '../helpers/harness.js';

type Sim = Awaited<ReturnType<typeof startSimulator>>;
type Server = Awaited<ReturnType<typeof startTestServer>>;

// With capacity 2 a worker holds the running job and the next one in ComfyUI's own queue.
describe('dispatch lookahead keeps the queue order exact', () => {
  let sim: Sim;
  let server: Server;
  let base: string;

  before(async () => {
    sim = await startSimulator({ port: 0, stepMs: 10 });
    server = await startTestServer({ comfyUrls: [sim.url], workerCapacity: 2 });
    base = server.url;
  });
  after(async () => {
    await server.close();
    await sim.close();
  });

  async function enqueue(steps: number, seed: number, extra: Record<string, unknown> = {}): Promise<string> {
    const r = await http('POST', `${base}/api/pqueue/jobs`, { prompt: t2iPrompt(steps, seed), ...extra });
    assert.equal(r.status, 201, r.text);
    return r.body.prompt_id;
  }

  async function runningInSim(id: string): Promise<void> {
    await until(
      async () => ((await simExecutions(sim.url)).some((e) => e.prompt_id === id) ? true : undefined),
      `${id} to start in the simulator`,
    );
  }

  test('a job waiting in the worker is taken back when another is moved ahead of it', async () => {
    const seen = (await simExecutions(sim.url)).length;
    const a = await enqueue(60, 1);
    const b = await enqueue(1, 2);
    await runningInSim(a);
    await waitForStatus(base, b, ['in_progress']); // held by the worker, waiting behind a
    const c = await enqueue(1, 3);
    assert.equal((await http('POST', `${base}/api/pqueue/reorder`, { prompt_ids: [c] })).status, 200);
    for (const id of [a, b, c]) await waitForStatus(base, id, ['completed']);
    const order = (await simExecutions(sim.url)).slice(seen).map((e) => e.prompt_id);
    assert.deepEqual(order, [a, c, b]);
  });

  test('a higher-priority job overtakes the waiting one; pause takes the waiting one back', async () => {
    const seen = (await simExecutions(sim.url)).length;
    const a = await enqueue(60, 11);
    const b = await enqueue(1, 12);
    await runningInSim(a);
    await waitForStatus(base, b, ['in_progress']);
    const urgent = await enqueue(1, 13, { priority: 10 });
    await waitForStatus(base, urgent, ['in_progress', 'completed']);
    assert.equal((await http('GET', `${base}/api/pqueue/jobs/${b}`)).body.status, 'pending');

    await http('POST', `${base}/api/pqueue/pause`);
    await waitForStatus(base, a, ['completed']);
    await waitForStatus(base, urgent, ['pending']);
    const q = await http('GET', `${base}/api/pqueue`);
    assert.deepEqual(q.body.running, []);
    assert.deepEqual(
      q.body.pending.map((j: any) => j.prompt_id),
      [urgent, b],
    );
    await http('POST', `${base}/api/pqueue/resume`);
    await waitForStatus(base, urgent, ['completed']);
    await waitForStatus(base, b, ['completed']);
    const order = (await simExecutions(sim.url)).slice(seen).map((e) => e.prompt_id);
    assert.deepEqual(order, [a, urgent, b]);
  });

  test('ComfyUI routes show the waiting job as pending, and a plain interrupt leaves it alone', async () => {
    // Long enough that a stall of the machine cannot let it finish before the queue is read; the interrupt ends it.
    const a = await enqueue(3000, 21);
    const b = await enqueue(1, 22);
    await runningInSim(a);
    await waitForStatus(base, b, ['in_progress']);
    const q = await http('GET', `${base}/api/queue`);
    assert.deepEqual(
      q.body.queue_running.map((t: any) => t[1]),
      [a],
    );
    assert.deepEqual(
      q.body.queue_pending.map((t: any) => t[1]),
      [b],
    );
    const jobs = await http('GET', `${base}/api/jobs?status=in_progress,pending`);
    const status = Object.fromEntries(jobs.body.jobs.map((j: any) => [j.id, j.status]));
    assert.equal(status[a], 'in_progress');
    assert.equal(status[b], 'pending');

    assert.equal((await http('POST', `${base}/api/interrupt`, {})).status, 200);
    assert.equal((await waitForStatus(base, a, ['cancelled', 'completed'])).status, 'cancelled');
    assert.equal((await waitForStatus(base, b, ['completed', 'cancelled'])).status, 'completed');
  });
});
