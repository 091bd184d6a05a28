/**
 * A client written only against ComfyUI's documented API (plain websocket +
 * fetch) submits, follows progress and reads the results through
 * comfy-queue; uploads, /view and the Origin rewrite pass through; pending
 * jobs a worker can no longer run fail with `invalid_job`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import type { RunningServer } from '../../src/server.js';
import { type RunningSimulator, startSimulator } from '../../src/sim/index.js';
import { http, startTestServer, until } from '../helpers/harness.js';

const PROMPT = {
  '1': {
    class_type: 'FakeSampler',
    inputs: { seed: 5, steps: 4, width: 64, height: 64, step_seconds: 0.01, preview: true },
  },
  '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'plain' } },
};

describe('a plain ComfyUI client through comfy-queue', () => {
  let sim: RunningSimulator;
  let cq: RunningServer;
  before(async () => {
    sim = await startSimulator({ stepMs: 5 });
    cq = await startTestServer({ comfyUrls: [sim.url] });
  });
  after(async () => {
    await cq.close();
    await sim.close();
  });

  test('submit, follow progress over /ws, read /history and /view', async () => {
    const clientId = 'plain-client-1';
    const ws = new WebSocket(`${cq.url.replace('http', 'ws')}/ws?clientId=${clientId}`);
    const messages: { type: string; data: Record<string, unknown> }[] = [];
    let previews = 0;
    ws.on('message', (data, binary) => {
      if (binary) previews++;
      else messages.push(JSON.parse(String(data)));
    });
    await new Promise((r) => ws.once('open', r));
    const res = await fetch(`${cq.url}/prompt`, {
      method: 'POST',
      body: JSON.stringify({ prompt: PROMPT, client_id: clientId }),
    });
    const { prompt_id } = (await res.json()) as { prompt_id: string };
    await until(
      async () =>
        messages.some((m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === prompt_id)
          ? true
          : undefined,
      'the end of the prompt',
    );
    ws.close();
    assert.equal(messages[0]?.type, 'status');
    assert.equal(messages[0]?.data.sid, clientId);
    assert.ok(messages.some((m) => m.type === 'progress' && m.data.prompt_id === prompt_id));
    assert.ok(previews > 0);
    const history = (await (await fetch(`${cq.url}/history/${prompt_id}`)).json()) as Record<string, any>;
    const image = history[prompt_id].outputs['2'].images[0];
    const viewUrl = `${cq.url}/view?${new URLSearchParams({ filename: image.filename, subfolder: image.subfolder, type: image.type })}`;
    // A page of another origin is refused, as ComfyUI refuses it; comfy-queue's own pages are not
    // (their Origin is rewritten to the worker's, which would otherwise refuse them).
    const foreign = await fetch(viewUrl, { headers: { origin: 'http://somewhere.else:1234' } });
    assert.equal(foreign.status, 403);
    const view = await fetch(viewUrl, { headers: { origin: cq.url } });
    assert.equal(view.status, 200);
    assert.equal(view.headers.get('content-type'), 'image/png');
    assert.ok((await view.arrayBuffer()).byteLength > 0);
  });

  test('multipart upload passes through and the uploaded name validates at once', async () => {
    const form = new FormData();
    form.append('image', new Blob([Buffer.from('89504e470d0a1a0a', 'hex')]), 'mine.png');
    const up = await fetch(`${cq.url}/upload/image`, { method: 'POST', body: form });
    assert.equal(up.status, 200);
    assert.deepEqual(await up.json(), { name: 'mine.png', subfolder: '', type: 'input' });
    const r = await http('POST', `${cq.url}/prompt`, {
      prompt: {
        '1': { class_type: 'LoadImage', inputs: { image: 'mine.png' } },
        '2': { class_type: 'PreviewImage', inputs: { images: ['1', 0] } },
      },
    });
    assert.equal(r.status, 200, r.text);
  });

  test('unknown /api/pqueue routes keep comfy-queue 404; /api/jobs is not at /jobs', async () => {
    const r = await http('GET', `${cq.url}/api/pqueue/nothing-here`);
    assert.equal(r.status, 404);
    assert.equal(r.body.error.code, 'NOT_FOUND');
    assert.notEqual((await http('GET', `${cq.url}/jobs`)).status, 200);
  });
});

describe('pending jobs re-validated when a worker connects', () => {
  test('with no grace, a job whose node type the worker lacks fails with invalid_job', async () => {
    const sim = await startSimulator({ stepMs: 5 });
    const cq = await startTestServer({ comfyUrls: [sim.url], missingNodeGraceMs: 0 });
    try {
      await cq.engine.pause();
      // stored directly: it bypasses POST /prompt validation, as a job stored before a node pack was removed
      const job = await cq.engine.enqueue({ prompt: { '1': { class_type: 'RemovedNode', inputs: {} } } });
      cq.engine.stateChanged('w1', 'online');
      const failed = await until(async () => {
        const j = await cq.store.get(job.id);
        return j?.status === 'failed' ? j : undefined;
      }, 'the job to fail');
      assert.equal(failed.error?.type, 'invalid_job');
      assert.match(failed.error!.message, /RemovedNode/);
    } finally {
      await cq.close();
      await sim.close();
    }
  });
});
