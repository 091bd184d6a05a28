/**
 * What a web page of another origin, a rebound DNS name or a malformed
 * request can do to a server on the loopback address, through real HTTP and
 * websockets against the simulator.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { startSimulator } from '../../src/sim/index.js';
import { http, startTestServer, t2iPrompt, until, waitForStatus } from '../helpers/harness.js';
import { rawExchange, rawHttp } from '../helpers/raw-http.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;
type Sim = Awaited<ReturnType<typeof startSimulator>>;

const EVIL = 'http://evil.example';
const ALLOWED = 'http://127.0.0.1:8188';
const PNG_1PX = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

/** A multipart upload as a `<form>` of any page can send it (fetch sets its content type). */
function multipart(filename: string): { type: null; body: FormData } {
  const form = new FormData();
  form.append('image', new Blob([PNG_1PX], { type: 'image/png' }), filename);
  return { type: null, body: form };
}

/** Resolves with the HTTP status a websocket handshake got (101 = accepted) and the refusal's body. */
function handshake(
  url: string,
  opts: WebSocket.ClientOptions = {},
): Promise<{ status: number; body: any; ws?: WebSocket; first?: any }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts);
    ws.once('message', (data) => resolve({ status: 101, body: null, ws, first: JSON.parse(String(data)) }));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
      });
      // The refused upgrade's socket is closed by the server: 'close' comes without the client ending it.
      res.socket.once('close', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    ws.once('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}

describe('requests from other origins and other names', () => {
  let sim: Sim;
  let server: Server;
  let base: string;

  before(async () => {
    sim = await startSimulator({ port: 0, stepMs: 1 });
    server = await startTestServer({ comfyUrls: [sim.url], allowOrigins: [ALLOWED] });
    base = server.url;
  });
  after(async () => {
    await server.close();
    await sim.close();
  });

  test('a page of another origin cannot act through any route, whatever simple body it sends', async () => {
    assert.equal((await http('POST', `${base}/api/pqueue/pause`)).status, 200);
    const queued = await http('POST', `${base}/api/pqueue/jobs`, { prompt: t2iPrompt(1, 1) });
    const id = queued.body.prompt_id as string;
    const text = (o: unknown) => ({ type: 'text/plain;charset=UTF-8', body: JSON.stringify(o) });
    const form = (o: unknown) => ({ type: 'application/x-www-form-urlencoded', body: JSON.stringify(o) });
    const upload = multipart('guard-cross-site.png');
    const attempts: [string, string, { type: string | null; body: string | FormData } | null][] = [
      ['POST', '/prompt', text({ prompt: t2iPrompt(1, 2) })],
      ['POST', '/api/prompt', form({ prompt: t2iPrompt(1, 3) })],
      ['POST', '/queue', text({ clear: true })],
      ['POST', '/api/queue', form({ delete: [id] })],
      ['POST', '/history', text({ clear: true })],
      ['POST', '/interrupt', null],
      ['POST', '/api/interrupt', text({})],
      ['POST', '/api/pqueue/resume', null],
      ['POST', '/api/pqueue/pause', form({})],
      ['POST', `/api/pqueue/jobs/${id}/cancel`, null],
      ['POST', '/api/jobs/cancel', text({ job_ids: [id] })],
      ['POST', '/api/pqueue/jobs', text({ prompt: t2iPrompt(1, 4) })],
      ['POST', '/api/pqueue/delete', text({ prompt_ids: [id] })],
      ['PATCH', '/api/pqueue/priority', text({ prompt_id: id, priority: 5 })],
      ['POST', '/upload/image', upload],
      ['POST', '/api/upload/image', upload],
    ];
    for (const [method, path, body] of attempts) {
      const variants: Record<string, string>[] = [
        { origin: EVIL },
        { origin: 'null' },
        { 'sec-fetch-site': 'cross-site' },
      ];
      for (const headers of variants) {
        const r = await fetch(`${base}${path}`, {
          method,
          headers: { ...headers, ...(body?.type ? { 'content-type': body.type } : {}) },
          body: body?.body,
        });
        assert.equal(r.status, 403, `${method} ${path} ${JSON.stringify(headers)}`);
        assert.equal(((await r.json()) as any).error.code, 'FORBIDDEN_ORIGIN');
      }
    }
    const q = await http('GET', `${base}/api/pqueue`);
    assert.equal(q.body.paused, true);
    assert.deepEqual(
      q.body.pending.map((j: { prompt_id: string }) => j.prompt_id),
      [id],
    );
    const view = await http('GET', `${base}/view?filename=guard-cross-site.png&type=input`);
    assert.equal(view.status, 404, 'the upload reached no worker');
  });

  test('its own pages, listed origins and scripts still act', async () => {
    const own = new URL(base).origin;
    const queued = await http(
      'POST',
      `${base}/api/pqueue/jobs`,
      { prompt: t2iPrompt(1, 5) },
      { origin: own },
    );
    assert.equal(queued.status, 201);
    const upload = multipart('guard-same-origin.png');
    const up = await fetch(`${base}/upload/image`, {
      method: 'POST',
      headers: { origin: own, 'sec-fetch-site': 'same-origin' },
      body: upload.body,
    });
    assert.equal(up.status, 200);
    assert.equal(((await up.json()) as any).name, 'guard-same-origin.png');
    const cancel = await http('POST', `${base}/api/pqueue/jobs/${queued.body.prompt_id}/cancel`, undefined, {
      origin: ALLOWED,
    });
    assert.equal(cancel.status, 200);
    assert.equal((await http('POST', `${base}/api/pqueue/pause`)).status, 200);
    // Reading is not refused for its origin: the page cannot read the answer without CORS anyway.
    assert.equal((await http('GET', `${base}/api/pqueue`, undefined, { origin: EVIL })).status, 200);
  });

  test('a name that is not loopback (DNS rebinding) gets 403 on every route', async () => {
    const port = new URL(base).port;
    for (const path of ['/api/pqueue', '/dashboard/', '/queue', '/object_info', '/api/pqueue/history']) {
      const r = await rawHttp('GET', `${base}${path}`, { host: `rebind.evil.example:${port}` });
      assert.equal(r.status, 403, path);
      assert.equal(r.body.error.code, 'FORBIDDEN_HOST');
    }
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, 'localhost']) {
      assert.equal((await rawHttp('GET', `${base}/api/pqueue`, { host })).status, 200, host);
    }
    const ws = await handshake(`${base.replace('http', 'ws')}/api/pqueue/ws`, {
      headers: { host: `rebind.evil.example:${port}` },
    });
    assert.equal(ws.status, 403);
    assert.equal(ws.body.error.code, 'FORBIDDEN_HOST');
  });

  test('websockets from another origin are refused and their sockets closed; upgrades elsewhere too', async () => {
    const wsBase = base.replace('http', 'ws');
    const own = new URL(base).origin;
    for (const path of ['/api/pqueue/ws', '/ws', '/api/ws?clientId=abc']) {
      const evil = await handshake(`${wsBase}${path}`, { origin: EVIL });
      assert.equal(evil.status, 403, path);
      assert.equal(evil.body.error.code, 'FORBIDDEN_ORIGIN');
      for (const origin of [own, ALLOWED, undefined]) {
        const ok = await handshake(`${wsBase}${path}`, origin ? { origin } : {});
        assert.equal(ok.status, 101, `${path} from ${origin}`);
        ok.ws?.close();
      }
    }
    // An upgrade asked of an ordinary route (comfy-queue's own, or passed through) is refused, not accepted and dropped.
    for (const path of ['/api/pqueue', '/view?filename=x.png', '/api/pqueue/nothing']) {
      const r = await handshake(`${wsBase}${path}`, { origin: own });
      assert.equal(r.status, 404, path);
      assert.equal(r.body.error.code, 'NOT_FOUND');
    }
  });

  test("a page of another origin cannot take over a client's /ws events by reusing its clientId", async () => {
    const wsBase = base.replace('http', 'ws');
    const own = new URL(base).origin;
    const first = await handshake(`${wsBase}/ws?clientId=victim`, { origin: own });
    assert.equal(first.first.data.sid, 'victim');
    const other = await handshake(`${wsBase}/ws?clientId=victim`, { origin: ALLOWED });
    assert.notEqual(other.first.data.sid, 'victim');
    const seenByOther: string[] = [];
    other.ws!.on('message', (d, bin) => {
      if (!bin) seenByOther.push(String(d));
    });
    const seenByFirst: any[] = [];
    first.ws!.on('message', (d, bin) => {
      if (!bin) seenByFirst.push(JSON.parse(String(d)));
    });
    assert.equal((await http('POST', `${base}/api/pqueue/resume`)).status, 200);
    const r = await http('POST', `${base}/prompt`, { prompt: t2iPrompt(1, 6), client_id: 'victim' });
    const pid = r.body.prompt_id as string;
    await waitForStatus(base, pid, ['completed']);
    await until(
      async () =>
        seenByFirst.some((m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === pid)
          ? true
          : undefined,
      'the end of the prompt on the first socket',
    );
    assert.ok(!seenByOther.some((m) => m.includes(pid)), 'the other origin saw none of the job');
    // The same origin reconnecting takes the clientId over, as in ComfyUI.
    const again = await handshake(`${wsBase}/ws?clientId=victim`, { origin: own });
    assert.equal(again.first.data.sid, 'victim');
    for (const s of [first, other, again]) s.ws?.close();
    assert.equal((await http('POST', `${base}/api/pqueue/pause`)).status, 200);
  });

  test('too deep JSON is a 400 at the edge, not a 500 later', async () => {
    const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    const prompt = JSON.stringify(t2iPrompt(1, 7));
    const bodies: [string, string][] = [
      ['/api/pqueue/jobs', `{"prompt":${prompt},"workflow":${deep(5000)}}`],
      ['/api/pqueue/jobs', `{"prompt":${prompt},"extra_data":{"x":${deep(5000)}}}`],
      ['/api/pqueue/jobs', `{"prompt":{"1":{"class_type":"X","inputs":{"a":${deep(5000)}}}}}`],
      ['/prompt', `{"prompt":{"1":{"class_type":"X","inputs":{"a":${deep(3000)}}}}}`],
      ['/api/prompt', `{"prompt":${prompt},"extra_data":${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}}`],
      ['/api/pqueue/history/delete', `{"prompt_ids":${deep(101)}}`],
    ];
    for (const [path, body] of bodies) {
      const r = await http('POST', `${base}${path}`, body);
      assert.equal(r.status, 400, path);
      assert.equal(r.body.error.code, 'BODY_TOO_DEEP', path);
    }
    const fine = await http('POST', `${base}/api/pqueue/jobs`, `{"prompt":${prompt},"workflow":${deep(60)}}`);
    assert.equal(fine.status, 201);
  });

  test('huge integer offsets and limits are clamped as ComfyUI would read them, not a 500', async () => {
    const huge = '12345678901234567890';
    for (const path of [
      `/history?offset=${huge}`,
      `/api/history?max_items=${huge}&offset=${huge}`,
      `/history?max_items=-${huge}`,
    ]) {
      const r = await http('GET', `${base}${path}`);
      assert.equal(r.status, 200, path);
      assert.deepEqual(r.body, {}, path);
    }
    const jobs = await http('GET', `${base}/api/jobs?offset=${huge}&limit=${huge}`);
    assert.equal(jobs.status, 200);
    assert.deepEqual(jobs.body.jobs, []);
    assert.equal(jobs.body.pagination.has_more, false);
    assert.equal((await http('GET', `${base}/api/jobs?offset=-${huge}`)).status, 200);
  });

  test("Fastify's and Node's own refusals have the catalog's shape", async () => {
    for (const path of ['/api/pqueue/jobs/%E0%A4%A', '/%zz', '/history/%']) {
      const r = await rawHttp('GET', `${base}${path}`);
      assert.equal(r.status, 400, path);
      assert.equal(r.body.error.code, 'BAD_REQUEST', path);
    }
    const method = await rawExchange(base, 'FOO /api/pqueue HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    assert.equal(method.status, 400);
    assert.equal(method.body.error.code, 'BAD_REQUEST');
    const unrouted = await rawExchange(
      base,
      'PROPFIND /api/pqueue HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
    );
    assert.equal(unrouted.status, 404);
    assert.equal(unrouted.body.error.code, 'NOT_FOUND');
    const big = await rawExchange(
      base,
      `GET /api/pqueue HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    assert.equal(big.status, 431);
    assert.equal(big.body.error.code, 'HEADERS_TOO_LARGE');
  });
});

describe('a request that does not arrive in time', () => {
  let server: Server;
  before(async () => {
    server = await startTestServer({
      comfyUrls: ['http://127.0.0.1:9'],
      incomingTimeoutMs: 300,
      allowHosts: ['comfy.lan'],
    });
  });
  after(() => server.close());

  test('a body that never ends and headers that never end are answered 408 and closed', async () => {
    const body = await rawExchange(
      server.url,
      'POST /api/pqueue/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"prompt":',
    );
    assert.equal(body.status, 408);
    assert.equal(body.body.error.code, 'REQUEST_TIMEOUT');
    const head = await rawExchange(
      server.url,
      'GET /api/pqueue HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n',
    );
    assert.equal(head.status, 408);
    assert.equal(head.body.error.code, 'REQUEST_TIMEOUT');
    // The server still answers.
    assert.equal((await http('GET', `${server.url}/api/pqueue`)).status, 200);
  });

  test('a request answered before its body ended gets no second answer when it times out', async () => {
    // No worker answers: the pass-through says 502 at once, while the upload is still arriving.
    const r = await rawExchange(
      server.url,
      'POST /upload/image HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\nContent-Length: 1000\r\n\r\n--x\r\n',
    );
    assert.equal(r.status, 502);
    assert.equal(r.text.match(/HTTP\/1\.1 /g)?.length, 1, r.text);
  });

  test('an open websocket is not a request that times out', async () => {
    const ws = await handshake(`${server.url.replace('http', 'ws')}/api/pqueue/ws`);
    assert.equal(ws.status, 101);
    const closed = new Promise<number>((resolve) => ws.ws!.once('close', (code) => resolve(code)));
    // A request that times out: the websocket has been open longer than the limit by then.
    const slow = await rawExchange(server.url, 'GET /api/pqueue HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    assert.equal(slow.status, 408);
    const messages: any[] = [];
    ws.ws!.on('message', (d, bin) => {
      if (!bin) messages.push(JSON.parse(String(d)));
    });
    assert.equal((await http('POST', `${server.url}/api/pqueue/pause`)).status, 200);
    await until(
      async () => (messages.some((m) => m.type === 'queue.paused') ? true : undefined),
      'the pause event',
    );
    ws.ws!.close();
    await closed;
  });

  test('--allow-host names are answered on a loopback bind, others not', async () => {
    assert.equal((await rawHttp('GET', `${server.url}/api/pqueue`, { host: 'comfy.lan:8189' })).status, 200);
    assert.equal((await rawHttp('GET', `${server.url}/api/pqueue`, { host: 'comfy.lan.evil' })).status, 403);
  });
});
