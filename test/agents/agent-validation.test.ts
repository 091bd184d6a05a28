/**
 * A farm of remote agents only: a submitted graph is checked against the node
 * definitions of the agents' ComfyUIs (asked through their connection, here
 * HTTP long-poll), as against pushed ones: an unknown node type or a value
 * no agent accepts is refused with ComfyUI's 400 and its node_errors, on
 * both POST /api/pqueue/jobs and ComfyUI's POST /prompt; a graph an agent
 * can run is taken and runs there.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type RunningSimulator, startSimulator } from '../../src/sim/index.js';
import { spawnAgent } from '../helpers/agents.js';
import { type ChildServer, http, startTestServer, t2iPrompt, tempDir, until } from '../helpers/harness.js';

const TOKEN = 'agent-validation-token';
const auth = { authorization: `Bearer ${TOKEN}` };

describe('graphs validated against the agents of a farm of agents only', () => {
  let sim: RunningSimulator;
  let cq: Awaited<ReturnType<typeof startTestServer>>;
  let agent: ChildServer;
  const data = tempDir();
  before(async () => {
    sim = await startSimulator({ stepMs: 5 });
    cq = await startTestServer({ comfyUrls: [], token: TOKEN });
    agent = await spawnAgent([
      '--server',
      cq.url,
      '--enroll',
      TOKEN,
      '--comfy',
      sim.url,
      '--name',
      'only',
      '--data',
      data.path,
      '--transport',
      'http',
    ]);
    await until(async () => {
      const w = await http('GET', `${cq.url}/api/farm/workers/only`, undefined, auth);
      return w.body.state === 'online' && w.body.capabilities ? true : undefined;
    }, 'the agent online, its node types known');
  });
  after(async () => {
    await agent.kill();
    await cq.close();
    await sim.close();
    data.remove();
  });

  const unknownNode = { '1': { class_type: 'NoSuchNode', inputs: {} } };
  const badSampler = () => {
    const p = t2iPrompt(2, 1) as Record<string, { inputs: Record<string, unknown> }>;
    p['3']!.inputs.sampler_name = 'no-such-sampler';
    return p;
  };

  test('POST /api/pqueue/jobs refuses an unknown node type and a value no agent accepts', async () => {
    const r = await http('POST', `${cq.url}/api/pqueue/jobs`, { prompt: unknownNode }, auth);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.body.error.code, 'INVALID_PROMPT');
    assert.equal(r.body.error.type, 'missing_node_type');
    assert.equal(r.body.error.extra_info.class_type, 'NoSuchNode');
    assert.deepEqual(r.body.node_errors, {});
    const bad = await http('POST', `${cq.url}/api/pqueue/jobs`, { prompt: badSampler() }, auth);
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.body.error.type, 'prompt_outputs_failed_validation');
    assert.equal(bad.body.node_errors['3'].class_type, 'KSampler');
    assert.equal(bad.body.node_errors['3'].errors[0].type, 'value_not_in_list');
    const counts = (await http('GET', `${cq.url}/api/admin/queue?limit=1`, undefined, auth)).body.counts;
    assert.equal(counts.pending + counts.in_progress, 0, 'nothing was stored');
  });

  test("ComfyUI's POST /prompt answers as ComfyUI does, and a graph the agent can run runs there", async () => {
    const r = await http('POST', `${cq.url}/prompt`, { prompt: unknownNode }, auth);
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(Object.keys(r.body).sort(), ['error', 'node_errors']);
    assert.equal(r.body.error.type, 'missing_node_type');
    assert.match(r.body.error.message, /Node 'NoSuchNode' not found/);
    assert.deepEqual(r.body.node_errors, {});
    const bad = await http('POST', `${cq.url}/prompt`, { prompt: badSampler() }, auth);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.node_errors['3'].errors[0].type, 'value_not_in_list');

    const ok = await http('POST', `${cq.url}/prompt`, { prompt: t2iPrompt(2, 5) }, auth);
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ok.body.node_errors, {});
    const done = await until(async () => {
      const j = (await http('GET', `${cq.url}/api/pqueue/jobs/${ok.body.prompt_id}`, undefined, auth)).body;
      return j.status === 'completed' ? j : undefined;
    }, 'the job completed');
    assert.equal(done.worker, 'only');
  });
});
