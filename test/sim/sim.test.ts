import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { readPngText } from '../../src/media/png.js';
import { startSimulator } from '../../src/sim/index.js';
import { t2iPrompt } from '../helpers/harness.js';
import { finished, getJson, isText, openSocket, postJson } from './helpers.js';

type Sim = Awaited<ReturnType<typeof startSimulator>>;
type Execution = { prompt_id: string; start: number; end: number; outcome: string };

const sdGraph = t2iPrompt;

async function queue(sim: Sim, body: Record<string, unknown>): Promise<string> {
  const res = await postJson(`${sim.url}/prompt`, body);
  assert.equal(res.status, 200, res.text);
  return (res.json as { prompt_id: string }).prompt_id;
}

function rawStatus(url: string, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('simulator', () => {
  let sim: Sim;
  before(async () => {
    sim = await startSimulator({ stepMs: 0 });
  });
  after(() => sim.close());

  it('records every execution on /sim/executions and saves a PNG with prompt and workflow chunks', async () => {
    const sock = await openSocket(sim.url, 'exec-client');
    const workflow = { nodes: [], title: 'café ☃' };
    const id = await queue(sim, {
      prompt: sdGraph(2, 7, 'sub/dir/pic'),
      client_id: 'exec-client',
      extra_data: { extra_pnginfo: { workflow } },
    });
    await sock.waitFor(finished(id));
    const executions = (await getJson(`${sim.url}/sim/executions`)) as Execution[];
    const mine = executions.find((e) => e.prompt_id === id)!;
    assert.equal(mine.outcome, 'success');
    assert.ok(mine.end >= mine.start);
    const history = (await getJson(`${sim.url}/api/history/${id}`)) as Record<
      string,
      { outputs: Record<string, { images: { filename: string; subfolder: string; type: string }[] }> }
    >;
    const image = history[id]!.outputs['9']!.images[0]!;
    assert.deepEqual(image, { filename: 'pic_00001_.png', subfolder: 'sub/dir', type: 'output' });
    const res = await fetch(`${sim.url}/api/view?filename=${image.filename}&subfolder=sub/dir&type=output`);
    assert.equal(res.status, 200);
    const text = readPngText(Buffer.from(await res.arrayBuffer()));
    assert.deepEqual(JSON.parse(text.workflow!), workflow);
    assert.match(text.workflow!, /caf\\u00e9/);
    assert.equal(JSON.parse(text.prompt!)['9'].class_type, 'SaveImage');
    assert.equal((await fetch(`${sim.url}/view?filename=nope.png`)).status, 404);
    assert.equal((await fetch(`${sim.url}/view?filename=../x.png`)).status, 400);
    await sock.close();
  });

  it('interrupts the running prompt at the next step, globally or by id', async () => {
    const slow = await startSimulator({ stepMs: 5 });
    const sock = await openSocket(slow.url, 'intr');
    const id = await queue(slow, { prompt: sdGraph(10_000), client_id: 'intr' });
    await sock.waitFor(isText('progress', (d) => d.prompt_id === id));
    await postJson(`${slow.url}/interrupt`, { prompt_id: 'not-running' });
    const before = sock.frames.length;
    await sock.waitFor(
      isText('progress', (d) => d.prompt_id === id),
      before,
    );
    const res = await postJson(`${slow.url}/interrupt`, {});
    assert.equal(res.text, '');
    const ev = await sock.waitFor(isText('execution_interrupted'));
    assert.deepEqual(Object.keys((ev as { data: object }).data), [
      'prompt_id',
      'node_id',
      'node_type',
      'executed',
      'timestamp',
    ]);
    assert.equal((ev as unknown as { data: { node_type: string } }).data.node_type, 'KSampler');
    await sock.waitFor(finished(id));
    const h = (await getJson(`${slow.url}/history/${id}`)) as Record<
      string,
      { status: { status_str: string; messages: [string][] } }
    >;
    assert.equal(h[id]!.status.status_str, 'error');
    assert.equal(h[id]!.status.messages.at(-1)![0], 'execution_interrupted');
    const ex = (await getJson(`${slow.url}/sim/executions`)) as Execution[];
    assert.equal(ex[0]!.outcome, 'interrupted');
    await sock.close();
    await slow.close();
  });

  it('orders the queue by number, front and prompt_id; deletes and clears pending items', async () => {
    const slow = await startSimulator({ stepMs: 5 });
    const sock = await openSocket(slow.url, 'q');
    const blocker = await queue(slow, { prompt: sdGraph(10_000), client_id: 'q' });
    await sock.waitFor(isText('execution_start'));
    const a = await queue(slow, { prompt: sdGraph(1, 1), client_id: 'q' });
    const b = await queue(slow, { prompt: sdGraph(1, 2), client_id: 'q', front: true });
    const c = await queue(slow, { prompt: sdGraph(1, 3), client_id: 'q', number: -100 });
    const d = await queue(slow, { prompt: sdGraph(1, 4), client_id: 'q' });
    const q = (await getJson(`${slow.url}/queue`)) as {
      queue_running: unknown[][];
      queue_pending: unknown[][];
    };
    assert.equal(q.queue_running[0]![1], blocker);
    assert.ok(q.queue_pending.every((item) => item.length === 5));
    const order = [...q.queue_pending].sort((x, y) => (x[0] as number) - (y[0] as number)).map((x) => x[1]);
    assert.deepEqual(order, [c, b, a, d]);
    await postJson(`${slow.url}/queue`, { delete: [a, 'unknown'] });
    const remaining = (await getJson(`${slow.url}/prompt`)) as { exec_info: { queue_remaining: number } };
    assert.equal(remaining.exec_info.queue_remaining, 4);
    await postJson(`${slow.url}/interrupt`, {});
    await sock.waitFor(finished(d));
    const ex = ((await getJson(`${slow.url}/sim/executions`)) as Execution[]).map((e) => e.prompt_id);
    assert.deepEqual(ex, [blocker, c, b, d]);
    const clear = await postJson(`${slow.url}/queue`, { clear: true });
    assert.equal(clear.text, '');
    await sock.close();
    await slow.close();
  });

  it('reports failRate errors with the full execution_error payload', async () => {
    const failing = await startSimulator({ stepMs: 0, failRate: 1 });
    const sock = await openSocket(failing.url, 'f');
    const id = await queue(failing, { prompt: sdGraph(4), client_id: 'f' });
    const ev = (await sock.waitFor(isText('execution_error'))) as { data: Record<string, unknown> };
    for (const k of [
      'node_id',
      'node_type',
      'exception_message',
      'exception_type',
      'traceback',
      'current_inputs',
      'current_outputs',
    ]) {
      assert.ok(k in ev.data, k);
    }
    assert.equal(ev.data.node_type, 'KSampler');
    await sock.waitFor(finished(id));
    const ex = (await getJson(`${failing.url}/sim/executions`)) as Execution[];
    assert.equal(ex[0]!.outcome, 'error');
    await sock.close();
    await failing.close();
  });

  it('serves object_info for every known node', async () => {
    const info = (await getJson(`${sim.url}/object_info`)) as Record<
      string,
      { output_node: boolean; category: string }
    >;
    for (const name of [
      'CheckpointLoaderSimple',
      'CLIPTextEncode',
      'EmptyLatentImage',
      'KSampler',
      'VAEDecode',
      'SaveImage',
      'EmptyImage',
      'ImageInvert',
      'PreviewImage',
      'LoadImage',
      'FakeSampler',
    ]) {
      assert.ok(info[name], name);
    }
    assert.equal(info.SaveImage!.output_node, true);
    assert.equal(info.KSampler!.category, 'sampling');
    assert.deepEqual(await getJson(`${sim.url}/api/object_info/NoSuchNode`), {});
    const raw = await (await fetch(`${sim.url}/object_info/KSampler`)).text();
    assert.match(raw, /"max":18446744073709551615/);
  });

  it('validates inputs with ComfyUI error types', async () => {
    const g = sdGraph(1) as Record<string, { class_type: string; inputs: Record<string, unknown> }>;
    g['4']!.inputs.ckpt_name = 'missing.safetensors';
    g['3']!.inputs.steps = 0;
    g['3']!.inputs.cfg = 1000;
    g['8']!.inputs.vae = ['4', 0];
    const res = await postJson(`${sim.url}/prompt`, { prompt: g });
    assert.equal(res.status, 400);
    const body = res.json as {
      error: { type: string };
      node_errors: Record<string, { errors: { type: string }[]; dependent_outputs: string[] }>;
    };
    assert.equal(body.error.type, 'prompt_outputs_failed_validation');
    assert.deepEqual(
      body.node_errors['4']!.errors.map((e) => e.type),
      ['value_not_in_list'],
    );
    assert.deepEqual(
      body.node_errors['3']!.errors.map((e) => e.type),
      ['value_smaller_than_min', 'value_bigger_than_max'],
    );
    assert.deepEqual(
      body.node_errors['8']!.errors.map((e) => e.type),
      ['return_type_mismatch'],
    );
    assert.deepEqual(body.node_errors['4']!.dependent_outputs, ['9']);
  });

  it('answers 403 when Origin does not match a loopback Host, for HTTP and the websocket', async () => {
    const host = `127.0.0.1:${sim.port}`;
    assert.equal(await rawStatus(sim.url, '/queue', { Host: host, Origin: 'http://evil.example' }), 403);
    assert.equal(await rawStatus(sim.url, '/queue', { Host: host, Origin: `http://${host}` }), 200);
    await assert.rejects(openSocket(sim.url, 'x', { headers: { Origin: 'http://evil.example' } }), /403/);
    const open = await startSimulator({ enforceOrigin: false });
    assert.equal(await rawStatus(open.url, '/queue', { Origin: 'http://evil.example' }), 200);
    await open.close();
  });

  it('pages and edits history, 404s unknown routes', async () => {
    const sock = await openSocket(sim.url, 'h');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await queue(sim, { prompt: sdGraph(1, 100 + i), client_id: 'h' }));
    await sock.waitFor(finished(ids[2]!));
    const last2 = Object.keys((await getJson(`${sim.url}/history?max_items=2`)) as object);
    assert.deepEqual(last2, ids.slice(1));
    const all = Object.keys((await getJson(`${sim.url}/history`)) as object);
    const page = Object.keys((await getJson(`${sim.url}/history?max_items=1&offset=1`)) as object);
    assert.deepEqual(page, all.slice(1, 2));
    assert.equal((await fetch(`${sim.url}/history?max_items=x`)).status, 500);
    assert.equal((await postJson(`${sim.url}/history`, { delete: [ids[0]] })).text, '');
    assert.deepEqual(await getJson(`${sim.url}/history/${ids[0]}`), {});
    assert.equal((await fetch(`${sim.url}/no/such/route`)).status, 404);
    assert.equal((await fetch(`${sim.url}/prompt`, { method: 'POST', body: 'not json' })).status, 500);
    await sock.close();
  });

  it('accepts uploads that LoadImage then offers', async () => {
    const form = new FormData();
    form.append('image', new Blob([Buffer.from('fake image')], { type: 'image/png' }), 'photo.png');
    const up = await fetch(`${sim.url}/upload/image`, { method: 'POST', body: form });
    assert.deepEqual(await up.json(), { name: 'photo.png', subfolder: '', type: 'input' });
    const form2 = new FormData();
    form2.append('image', new Blob([Buffer.from('other image')], { type: 'image/png' }), 'photo.png');
    const up2 = await fetch(`${sim.url}/upload/image`, { method: 'POST', body: form2 });
    assert.equal(((await up2.json()) as { name: string }).name, 'photo (1).png');
    const info = (await getJson(`${sim.url}/object_info/LoadImage`)) as {
      LoadImage: { input: { required: { image: [string[]] } } };
    };
    assert.deepEqual(info.LoadImage.input.required.image[0], ['photo (1).png', 'photo.png']);
  });

  it('runs many instant prompts and several simulators side by side', async () => {
    const other = await startSimulator({ stepMs: 0 });
    const sock = await openSocket(other.url, 'bulk');
    const ids = await Promise.all(
      Array.from({ length: 200 }, (_, i) => queue(other, { prompt: sdGraph(1, i), client_id: 'bulk' })),
    );
    await Promise.all(ids.map((id) => sock.waitFor(finished(id))));
    const ex = (await getJson(`${other.url}/sim/executions`)) as Execution[];
    assert.equal(ex.length, 200);
    assert.ok(ex.every((e) => e.outcome === 'success'));
    const mine = (await getJson(`${sim.url}/sim/executions`)) as Execution[];
    assert.ok(!mine.some((e) => ids.includes(e.prompt_id)));
    await sock.close();
    await other.close();
  });
});
