/**
 * POST /api/pqueue/jobs against simulated workers: the graph is checked as
 * ComfyUI's POST /prompt checks it (same answer, plus comfy-queue's code),
 * and the three body forms users have (envelope, Export (API) graph, saved UI
 * workflow) are accepted and run.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type RunningSimulator, startSimulator } from '../../src/sim/index.js';
import { http, startTestServer, t2iPrompt, until, waitForStatus } from '../helpers/harness.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/workflows/${name}`, import.meta.url), 'utf8'));

function broken(kind: string): Record<string, any> {
  const p = t2iPrompt(1) as Record<string, any>;
  if (kind === 'unknown node type') p['8'].class_type = 'NoSuchDecoder';
  if (kind === 'missing required input') delete p['3'].inputs.steps;
  if (kind === 'wrong value type') p['3'].inputs.steps = 'many';
  if (kind === 'wrong link type') p['3'].inputs.model = ['5', 0];
  if (kind === 'value not in list') p['3'].inputs.sampler_name = 'no_such_sampler';
  if (kind === 'no output node') delete p['9'];
  return p;
}

describe('POST /api/pqueue/jobs checks the graph like ComfyUI and takes the forms users have', () => {
  let sim: RunningSimulator;
  let server: Server;
  let base: string;

  before(async () => {
    sim = await startSimulator({ stepMs: 5 });
    server = await startTestServer({ comfyUrls: [sim.url] });
    base = server.url;
    await until(async () => (server.workers[0]?.state === 'online' ? true : undefined), 'worker online');
  });
  after(async () => {
    await server.close();
    await sim.close();
  });

  for (const kind of [
    'unknown node type',
    'missing required input',
    'wrong value type',
    'wrong link type',
    'value not in list',
    'no output node',
  ]) {
    test(`${kind}: 400 with the simulator's own /prompt answer and a stable code`, async () => {
      const prompt = broken(kind);
      const comfy = await http('POST', `${sim.url}/prompt`, { prompt });
      assert.equal(comfy.status, 400);
      for (const body of [{ prompt }, prompt]) {
        const r = await http('POST', `${base}/api/pqueue/jobs`, body);
        assert.equal(r.status, 400, r.text);
        const { code, ...comfyFields } = r.body.error;
        assert.equal(code, 'INVALID_PROMPT');
        assert.deepEqual({ ...r.body, error: comfyFields }, comfy.body);
      }
    });
  }

  test('a graph with one good and one bad output runs the good one and reports the bad', async () => {
    const prompt = t2iPrompt(1) as Record<string, any>;
    prompt['10'] = { class_type: 'SaveImage', inputs: { images: ['8', 0] } }; // no filename_prefix
    const r = await http('POST', `${base}/api/pqueue/jobs`, { prompt });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.body.node_errors['10'].errors[0].type, 'required_input_missing');
    assert.deepEqual(r.body.partial_execution_targets, ['9']);
    const done = await waitForStatus(base, r.body.prompt_id, ['completed', 'failed']);
    assert.equal(done.status, 'completed', JSON.stringify(done.error));
  });

  test('the envelope, the bare Export (API) graph and a saved UI workflow all run', async () => {
    const ui = fixture('control-after-generate.workflow.json');
    const api = fixture('control-after-generate.api.json');
    const sent = [
      { body: { prompt: t2iPrompt(1, 11), name: 'envelope' }, workflow: null },
      { body: t2iPrompt(1, 12), workflow: null },
      { body: ui, workflow: ui },
      { body: { workflow: ui, name: 'named ui' }, workflow: ui },
      { body: fixture('subgraph.workflow.json'), workflow: fixture('subgraph.workflow.json') },
      { body: fixture('group-node.workflow.json'), workflow: fixture('group-node.workflow.json') },
    ];
    for (const { body, workflow } of sent) {
      const r = await http('POST', `${base}/api/pqueue/jobs`, body);
      assert.equal(r.status, 201, r.text);
      assert.deepEqual(r.body.workflow, workflow);
      if (workflow) assert.deepEqual(r.body.extra_data.extra_pnginfo.workflow, workflow);
      const done = await waitForStatus(base, r.body.prompt_id, ['completed', 'failed']);
      assert.equal(done.status, 'completed', JSON.stringify(done.error));
    }
    const r = await http('POST', `${base}/api/pqueue/jobs`, ui);
    assert.deepEqual(r.body.prompt, api);
    const kept = await fetch(`${base}/api/pqueue/jobs/${r.body.prompt_id}/workflow`);
    assert.equal(kept.status, 200);
    assert.deepEqual(await kept.json(), ui);
  });

  test('a UI workflow with a node no worker knows is refused naming the node', async () => {
    const ui = fixture('plain.workflow.json');
    ui.nodes[1].type = 'SomeCustomNode';
    const r = await http('POST', `${base}/api/pqueue/jobs`, ui);
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'WORKFLOW_UNCONVERTIBLE');
    assert.equal(r.body.error.details.reason, 'unknown_node_type');
    assert.equal(r.body.error.details.node_id, '2');
    assert.match(r.body.error.message, /SomeCustomNode/);
  });

  test('each wrong shape gets one plain sentence saying what was expected', async () => {
    const cases: unknown[] = [
      [],
      {},
      { name: 'no prompt' },
      { prompt: [] },
      { prompt: {} },
      { prompt: { '1': { inputs: {} } } },
      { prompt: t2iPrompt(), priority: 1.5 },
      { prompt: t2iPrompt(), prompt_id: 'NOT-A-UUID' },
      { prompt: t2iPrompt(), surprise: true },
      { '1': { class_type: 'EmptyImage', inputs: {} }, '2': { inputs: {} } },
    ];
    for (const body of cases) {
      const r = await http('POST', `${base}/api/pqueue/jobs`, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.error.code, 'INVALID_BODY');
      const m: string = r.body.error.message;
      assert.doesNotMatch(m, /expected \w+, received|Unrecognized key/, m);
      assert.match(m, /^[A-Z"].*\.$/, m);
    }
  });
});

describe('with no worker object_info known', () => {
  test('an API prompt is stored and checked at dispatch; a UI workflow is refused with 503', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const server = await startTestServer({ comfyUrls: [`http://127.0.0.1:${port}`] });
    let sim: RunningSimulator | null = null;
    try {
      const r = await http('POST', `${server.url}/api/pqueue/jobs`, {
        prompt: broken('missing required input'),
      });
      assert.equal(r.status, 201, r.text);
      const ui = await http('POST', `${server.url}/api/pqueue/jobs`, fixture('plain.workflow.json'));
      assert.equal(ui.status, 503);
      assert.equal(ui.body.error.code, 'NO_WORKER_INFO');
      assert.match(ui.body.error.message, /worker is online/);
      sim = await startSimulator({ port, stepMs: 5 });
      const failed = await waitForStatus(server.url, r.body.prompt_id, ['failed', 'completed']);
      assert.equal(failed.status, 'failed');
      assert.equal(failed.error.details.node_errors['3'].errors[0].type, 'required_input_missing');
      assert.deepEqual(failed.error_nodes, [
        {
          node_id: '3',
          class_type: 'KSampler',
          title: null,
          input_name: 'steps',
          type: 'required_input_missing',
          message: 'Required input is missing',
          details: 'steps',
        },
      ]);
    } finally {
      await server.close();
      await sim?.close();
    }
  });
});
