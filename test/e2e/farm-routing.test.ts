import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type RunningSimulator, startSimulator } from '../../src/sim/index.js';
import { http, startTestServer, t2iPrompt, until, waitForStatus } from '../helpers/harness.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

function prompt(ckpt: string, seed = 1, steps = 1): Record<string, unknown> {
  const p = t2iPrompt(steps, seed) as Record<string, { inputs: Record<string, unknown> }>;
  p['4']!.inputs.ckpt_name = ckpt;
  return p;
}

async function submit(base: string, body: Record<string, unknown>): Promise<string> {
  const r = await http('POST', `${base}/api/pqueue/jobs`, body);
  assert.equal(r.status, 201, r.text);
  return r.body.prompt_id as string;
}

interface WorkerJson {
  id: string;
  state: string;
  failure_streak: number;
  blocked_workflows: string[];
  capabilities: { models: string[] } | null;
}

async function worker(base: string, id: string): Promise<WorkerJson> {
  const r = await http<WorkerJson>('GET', `${base}/api/farm/workers/${id}`);
  assert.equal(r.status, 200, r.text);
  return r.body;
}

/** Every worker online with its node types and models read. */
async function farmReady(base: string, ids: string[]): Promise<void> {
  await until(
    async () => {
      const all = await Promise.all(ids.map((id) => worker(base, id)));
      return all.every((w) => w.state === 'online' && w.capabilities) ? true : undefined;
    },
    `workers ${ids.join(', ')} ready`,
  );
}

describe('the farm', () => {
  const sims: RunningSimulator[] = [];
  const servers: Server[] = [];
  const sim = async (opts: Parameters<typeof startSimulator>[0]) => {
    const s = await startSimulator({ stepMs: 5, ...opts });
    sims.push(s);
    return s;
  };
  const serve = async (urls: string[], extra: Partial<Parameters<typeof startTestServer>[0]> = {}) => {
    const s = await startTestServer({ comfyUrls: urls, workerCapacity: 1, pollMs: 100, ...extra });
    servers.push(s);
    return s;
  };
  after(async () => {
    for (const s of servers) await s.close();
    for (const s of sims) await s.close();
  });

  test('each job goes only to a worker that has its model; one for a model nobody has waits, then runs on a worker added for it', async () => {
    const a = await sim({ checkpoints: ['alpha.safetensors'] });
    const b = await sim({ checkpoints: ['beta.safetensors'] });
    const cq = await serve([a.url, b.url]);
    await farmReady(cq.url, ['w1', 'w2']);
    const ids: [string, string][] = [];
    for (let i = 0; i < 6; i++) {
      const ckpt = i % 2 ? 'beta.safetensors' : 'alpha.safetensors';
      ids.push([await submit(cq.url, { prompt: prompt(ckpt, i) }), i % 2 ? 'w2' : 'w1']);
    }
    const gamma = await submit(cq.url, { prompt: prompt('gamma.safetensors', 99) });
    for (const [id, expected] of ids) {
      const done = await waitForStatus(cq.url, id, ['completed', 'failed']);
      assert.equal(done.status, 'completed', JSON.stringify(done.error));
      assert.equal(done.worker, expected);
    }
    const waiting = await until(async () => {
      const j = (await http('GET', `${cq.url}/api/pqueue/jobs/${gamma}`)).body;
      return j.waiting ? j : undefined;
    }, 'the reason it waits');
    assert.equal(waiting.status, 'pending');
    assert.equal(waiting.waiting.reason, 'no online worker has the model gamma.safetensors');

    const c = await sim({ checkpoints: ['gamma.safetensors'] });
    const added = await http('POST', `${cq.url}/api/farm/workers`, {
      url: c.url,
      name: 'gpu-c',
      tags: ['big'],
    });
    assert.equal(added.status, 201, added.text);
    assert.equal(added.body.id, 'gpu-c');
    const done = await waitForStatus(cq.url, gamma, ['completed', 'failed']);
    assert.equal(done.status, 'completed');
    assert.equal(done.worker, 'gpu-c');
    const again = await http('POST', `${cq.url}/api/farm/workers`, { url: c.url, name: 'gpu-c' });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'DUPLICATE_WORKER');
  });

  test('a job that requires a tag waits until a worker has it', async () => {
    const a = await sim({});
    const cq = await serve([a.url]);
    await farmReady(cq.url, ['w1']);
    const id = await submit(cq.url, {
      prompt: prompt('v1-5-pruned-emaonly.safetensors'),
      requires: ['sdxl'],
    });
    const waiting = await until(async () => {
      const j = (await http('GET', `${cq.url}/api/pqueue/jobs/${id}`)).body;
      return j.waiting ? j : undefined;
    }, 'the reason it waits');
    assert.equal(waiting.waiting.reason, 'no online worker has the tag sdxl');
    assert.deepEqual(waiting.requires, ['sdxl']);
    const card = (await http('GET', `${cq.url}/api/admin/queue`)).body.jobs.find(
      (c: { prompt_id: string }) => c.prompt_id === id,
    );
    assert.equal(card.waiting.reason, 'no online worker has the tag sdxl', 'the queue card says why too');
    assert.deepEqual(card.requires, ['sdxl']);
    const patched = await http('PATCH', `${cq.url}/api/farm/workers/w1`, { tags: ['sdxl'] });
    assert.equal(patched.status, 200, patched.text);
    const done = await waitForStatus(cq.url, id, ['completed']);
    assert.equal(done.worker, 'w1');
    const bad = await http('POST', `${cq.url}/api/pqueue/jobs`, { prompt: prompt('x'), requires: 'sdxl' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /"requires" must be a list of worker tags/);
  });

  test('out of memory: the job moves to another worker; three in a row quarantine the worker', async () => {
    const oom = await sim({ failRate: 1, failKind: 'oom' });
    const cq = await serve([oom.url], { maxRetries: 5 });
    await farmReady(cq.url, ['w1']);
    const ids = [];
    for (let i = 0; i < 3; i++)
      ids.push(await submit(cq.url, { prompt: prompt('v1-5-pruned-emaonly.safetensors', 10 + i) }));
    const sick = await until(async () => {
      const w = await worker(cq.url, 'w1');
      return w.state === 'quarantined' ? w : undefined;
    }, 'the worker quarantined');
    assert.equal(sick.failure_streak, 3);
    assert.equal(sick.blocked_workflows.length, 1, 'the workflow that failed twice on it is blocked there');
    for (const id of ids)
      assert.equal((await http('GET', `${cq.url}/api/pqueue/jobs/${id}`)).body.status, 'pending');

    const healthy = await sim({});
    assert.equal(
      (await http('POST', `${cq.url}/api/farm/workers`, { url: healthy.url, name: 'healthy' })).status,
      201,
    );
    let retries = 0;
    for (const id of ids) {
      const done = await waitForStatus(cq.url, id, ['completed', 'failed']);
      assert.equal(done.status, 'completed');
      assert.equal(done.worker, 'healthy');
      retries += done.retries;
    }
    assert.equal(retries, 3, 'each of the three worker failures spent one retry');
    const released = await http('PATCH', `${cq.url}/api/farm/workers/w1`, { release: true, unblock: true });
    assert.equal(released.body.state, 'online');
    assert.equal(released.body.failure_streak, 0);
    assert.deepEqual(released.body.blocked_workflows, []);
  });

  test('a workflow error fails at once, without a retry', async () => {
    const broken = await sim({ failRate: 1 });
    const cq = await serve([broken.url]);
    await farmReady(cq.url, ['w1']);
    const id = await submit(cq.url, { prompt: prompt('v1-5-pruned-emaonly.safetensors') });
    const done = await waitForStatus(cq.url, id, ['completed', 'failed']);
    assert.equal(done.status, 'failed');
    assert.equal(done.attempts, 1);
    assert.equal(done.retries, 0);
    assert.match(done.error.message, /Simulated failure/);
  });

  test('a worker removed mid-job gives its job back without spending a retry', async () => {
    const slow = await sim({ stepMs: 20 });
    const cq = await serve([slow.url]);
    await farmReady(cq.url, ['w1']);
    const id = await submit(cq.url, { prompt: prompt('v1-5-pruned-emaonly.safetensors', 5, 400) });
    await waitForStatus(cq.url, id, ['in_progress']);
    const removed = await http('DELETE', `${cq.url}/api/farm/workers/w1`);
    assert.equal(removed.status, 200, removed.text);
    const back = await waitForStatus(cq.url, id, ['pending']);
    assert.equal(back.retries, 0);
    assert.equal((await http('GET', `${cq.url}/api/farm/workers/w1`)).status, 404);
    const other = await sim({});
    await http('POST', `${cq.url}/api/farm/workers`, { url: other.url, name: 'other' });
    const done = await waitForStatus(cq.url, id, ['completed']);
    assert.equal(done.worker, 'other');
    assert.equal(done.retries, 0);
  });

  test('a draining worker finishes its job and takes no other', async () => {
    const a = await sim({ stepMs: 10 });
    const b = await sim({ stepMs: 1 });
    const cq = await serve([a.url, b.url]);
    await farmReady(cq.url, ['w1', 'w2']);
    await http('PATCH', `${cq.url}/api/farm/workers/w2`, { mode: 'paused' });
    const first = await submit(cq.url, { prompt: prompt('v1-5-pruned-emaonly.safetensors', 1, 60) });
    await waitForStatus(cq.url, first, ['in_progress']);
    const drained = await http('PATCH', `${cq.url}/api/farm/workers/w1`, { mode: 'draining' });
    assert.equal(drained.body.state, 'draining');
    await http('PATCH', `${cq.url}/api/farm/workers/w2`, { mode: 'active' });
    const rest = [];
    for (let i = 0; i < 3; i++)
      rest.push(await submit(cq.url, { prompt: prompt('v1-5-pruned-emaonly.safetensors', 20 + i) }));
    assert.equal((await waitForStatus(cq.url, first, ['completed'])).worker, 'w1');
    for (const id of rest) assert.equal((await waitForStatus(cq.url, id, ['completed'])).worker, 'w2');
    const bad = await http('PATCH', `${cq.url}/api/farm/workers/w1`, { mode: 'asleep' });
    assert.equal(bad.status, 400);
  });
});
