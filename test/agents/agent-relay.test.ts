/**
 * An agent cut off from the server (a TCP relay that stops forwarding) for
 * longer than its lease: its job goes back to the queue without spending a
 * retry and runs on another agent; when the relay forwards again, the cut-off
 * agent's copy is interrupted on its ComfyUI, its late report is refused, and
 * the job keeps the other agent's outcome; over the websocket and over HTTP
 * long-poll alike.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { type RunningSimulator, startSimulator } from '../../src/sim/index.js';
import { Relay, spawnAgent } from '../helpers/agents.js';
import {
  type ChildServer,
  http,
  simExecutions,
  startTestServer,
  t2iPrompt,
  tempDir,
  until,
} from '../helpers/harness.js';

const TOKEN = 'relay-test-token';
const auth = { authorization: `Bearer ${TOKEN}` };

for (const transport of ['ws', 'http'] as const)
  test(`a job whose agent (--transport ${transport}) was cut off longer than its lease runs elsewhere; the stale copy is interrupted and its report refused`, async () => {
    const sims: RunningSimulator[] = [];
    const agents: ChildServer[] = [];
    const slow = await startSimulator({ stepMs: 300 });
    const fast = await startSimulator({ stepMs: 5 });
    sims.push(slow, fast);
    const cq = await startTestServer({ comfyUrls: [], token: TOKEN, leaseMs: 2_000 });
    const { port } = new URL(cq.url);
    const relay = new Relay('127.0.0.1', Number(port));
    await relay.start();
    after(async () => {
      for (const a of agents) await a.kill();
      await relay.close();
      await cq.close();
      for (const s of sims) await s.close();
    });

    // Agent "cut" reaches the server only through the relay.
    const cutData = tempDir();
    const cut = await spawnAgent([
      '--server',
      relay.url,
      '--enroll',
      TOKEN,
      '--comfy',
      slow.url,
      '--name',
      'cut',
      '--data',
      cutData.path,
      '--transport',
      transport,
    ]);
    agents.push(cut);
    const workerOnline = (id: string) =>
      until(async () => {
        const r = await http('GET', `${cq.url}/api/farm/workers/${id}`, undefined, auth);
        return r.status === 200 && r.body.state === 'online' && r.body.kind === 'agent' ? true : undefined;
      }, `agent ${id} online`);
    await workerOnline('cut');
    const w = await http('GET', `${cq.url}/api/farm/workers/cut`, undefined, auth);
    assert.equal(w.body.transport, transport === 'ws' ? 'websocket' : 'long-poll');

    const r = await http('POST', `${cq.url}/api/pqueue/jobs`, { prompt: t2iPrompt(60, 7) }, auth);
    assert.equal(r.status, 201, r.text);
    const id = r.body.prompt_id as string;
    // Running on the slow simulator behind the cut-off agent.
    await until(
      async () => ((await simExecutions(slow.url)).some((e) => e.prompt_id === id) ? true : undefined),
      'the job running behind agent "cut"',
    );
    const running = await http('GET', `${cq.url}/api/pqueue/jobs/${id}`, undefined, auth);
    assert.equal(running.body.status, 'in_progress');
    assert.equal(running.body.worker, 'cut');

    const other = await spawnAgent([
      '--server',
      cq.url,
      '--enroll',
      TOKEN,
      '--comfy',
      fast.url,
      '--name',
      'other',
      '--data',
      tempDir().path,
    ]);
    agents.push(other);
    await workerOnline('other');

    relay.pause();
    const done = await until(
      async () => {
        const j = await http('GET', `${cq.url}/api/pqueue/jobs/${id}`, undefined, auth);
        return j.body.status === 'completed' ? j.body : undefined;
      },
      'the job completed elsewhere',
      60_000,
    );
    assert.equal(done.worker, 'other');
    assert.equal(done.attempts, 2, 'claimed twice: once per agent');
    assert.equal(done.retries, 0, 'an expired lease spends no retry');
    // Still running on the slow simulator: nothing reached the cut-off agent.
    const before = (await simExecutions(slow.url)).find((e) => e.prompt_id === id);
    assert.equal(before?.end, null, 'the stale copy still runs while the agent is cut off');

    relay.resume();
    const stale = await until(
      async () => {
        const e = (await simExecutions(slow.url)).find((x) => x.prompt_id === id);
        return e?.end !== null ? e : undefined;
      },
      'the stale copy interrupted',
      60_000,
    );
    assert.equal(stale?.outcome, 'interrupted');
    await until(
      async () => (cut.output().includes(`report refused by the server: job ${id}`) ? true : undefined),
      'the late report refused',
      30_000,
    );
    const final = await http('GET', `${cq.url}/api/pqueue/jobs/${id}`, undefined, auth);
    assert.equal(final.body.status, 'completed');
    assert.equal(final.body.worker, 'other');
    assert.deepEqual(final.body.outputs, done.outputs);
    // Once only on the fast simulator.
    assert.equal((await simExecutions(fast.url)).filter((e) => e.prompt_id === id).length, 1);
    cutData.remove();
  });

test('an agent cut off longer than its lease, and the only one able to run the job, runs it again once back', async () => {
  const sim = await startSimulator({ stepMs: 150 });
  const cq = await startTestServer({ comfyUrls: [], token: TOKEN, leaseMs: 2_000 });
  const relay = new Relay('127.0.0.1', Number(new URL(cq.url).port));
  await relay.start();
  const data = tempDir();
  const solo = await spawnAgent([
    '--server',
    relay.url,
    '--enroll',
    TOKEN,
    '--comfy',
    sim.url,
    '--name',
    'solo',
    '--data',
    data.path,
  ]);
  after(async () => {
    await solo.kill();
    await relay.close();
    await cq.close();
    await sim.close();
    data.remove();
  });
  await until(async () => {
    const w = await http('GET', `${cq.url}/api/farm/workers/solo`, undefined, auth);
    return w.body.state === 'online' ? true : undefined;
  }, 'agent online');
  const r = await http('POST', `${cq.url}/api/pqueue/jobs`, { prompt: t2iPrompt(40, 8) }, auth);
  const id = r.body.prompt_id as string;
  await until(
    async () => ((await simExecutions(sim.url)).some((e) => e.prompt_id === id) ? true : undefined),
    'the job running',
  );
  relay.pause();
  await until(async () => {
    const j = (await http('GET', `${cq.url}/api/pqueue/jobs/${id}`, undefined, auth)).body;
    return j.status === 'pending' ? j : undefined;
  }, 'the job back in the queue after the lease');
  relay.resume();
  // The old copy is interrupted; the new claim runs once it is gone, on the same ComfyUI.
  const done = await until(
    async () => {
      const j = (await http('GET', `${cq.url}/api/pqueue/jobs/${id}`, undefined, auth)).body;
      return j.status === 'completed' ? j : undefined;
    },
    'the job completed under its second claim',
    60_000,
  );
  assert.equal(done.worker, 'solo');
  assert.equal(done.attempts, 2);
  assert.equal(done.retries, 0);
  const runs = (await simExecutions(sim.url)).filter((e) => e.prompt_id === id);
  assert.deepEqual(
    runs.map((e) => e.outcome),
    ['interrupted', 'success'],
  );
});
