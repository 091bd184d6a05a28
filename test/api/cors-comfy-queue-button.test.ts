import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { startSimulator } from '../../src/sim/index.js';
import { startTestServer, t2iPrompt } from '../helpers/harness.js';

const ORIGIN = 'http://127.0.0.1:8188';

describe("a ComfyUI page of an allowed origin queues on comfy-queue (the custom node's Queue button)", () => {
  let sim: Awaited<ReturnType<typeof startSimulator>>;
  let server: Awaited<ReturnType<typeof startTestServer>>;
  before(async () => {
    sim = await startSimulator({ port: 0, stepMs: 5 });
    server = await startTestServer({ comfyUrls: [sim.url], token: 'tok', allowOrigins: [ORIGIN] });
  });
  after(async () => {
    await server.close();
    await sim.close();
  });

  test('the preflight of POST /api/prompt with its token and JSON body is answered', async () => {
    const pre = await fetch(`${server.url}/api/prompt`, {
      method: 'OPTIONS',
      headers: {
        origin: ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), ORIGIN);
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /authorization.*content-type/);
  });

  test('POST /api/prompt from it stores the job, and the /ws upgrade from it relays the job to its client id', async () => {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws?clientId=page-1&token=tok`, {
      origin: ORIGIN,
    });
    const messages: { type: string; data: Record<string, unknown> }[] = [];
    const first = new Promise<void>((resolve, reject) => {
      ws.once('error', reject);
      ws.on('message', (data, binary) => {
        if (!binary) messages.push(JSON.parse(String(data)));
        resolve();
      });
    });
    await first;
    assert.equal(messages[0]?.type, 'status');
    assert.equal(messages[0]?.data.sid, 'page-1');

    const res = await fetch(`${server.url}/api/prompt`, {
      method: 'POST',
      headers: { origin: ORIGIN, authorization: 'Bearer tok', 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: 'page-1', prompt: t2iPrompt(2, 5), front: true }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), ORIGIN);
    const { prompt_id: id } = (await res.json()) as { prompt_id: string };
    await new Promise<void>((resolve) => {
      const check = () => {
        if (messages.some((m) => m.type === 'execution_success' && m.data.prompt_id === id)) resolve();
      };
      ws.on('message', check);
      check();
    });
    ws.close();
  });
});
