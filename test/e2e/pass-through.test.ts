import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { AIOHTTP_WIRE, type RunningSimulator, startSimulator } from '../../src/sim/index.js';
import { startTestServer } from '../helpers/harness.js';

type Server_ = Awaited<ReturnType<typeof startTestServer>>;

interface Req {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
}

interface Seen {
  status: number;
  type: string | null;
  length: string | null;
  etag: string | null;
  range: string | null;
  body: Buffer;
}

async function send(base: string, r: Req): Promise<Seen> {
  const res = await fetch(base + r.path, {
    method: r.method,
    headers: r.headers,
    body: r.body ? new Uint8Array(r.body) : undefined,
  });
  const body = Buffer.from(await res.arrayBuffer());
  const h = (n: string) => res.headers.get(n);
  return {
    status: res.status,
    type: h('content-type'),
    length: h('content-length'),
    etag: h('etag'),
    range: h('content-range'),
    body,
  };
}

function multipart(name: string, data: Buffer): { body: Buffer; type: string } {
  const b = `----cq${name.replace(/\W/g, '')}`;
  const body = Buffer.concat([
    Buffer.from(
      `--${b}\r\nContent-Disposition: form-data; name="image"; filename="${name}"\r\nContent-Type: image/png\r\n\r\n`,
    ),
    data,
    Buffer.from(`\r\n--${b}\r\nContent-Disposition: form-data; name="overwrite"\r\n\r\ntrue\r\n--${b}--\r\n`),
  ]);
  return { body, type: `multipart/form-data; boundary=${b}` };
}

/** Deterministic bytes that are not all alike. */
function bytes(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const SIZES = [1024, 10_000, 100_000, 700_000, 2_000_000, 5 * 1024 * 1024];

describe('the pass-through in front of an aiohttp-like worker', () => {
  let sim: RunningSimulator;
  let server: Server_;

  before(async () => {
    sim = await startSimulator({ wire: AIOHTTP_WIRE, webUi: 4 * 1024 * 1024 });
    server = await startTestServer({ comfyUrls: [sim.url] });
    // Input files of every size, put straight on the worker.
    for (const [i, size] of SIZES.entries()) {
      const m = multipart(`file-${i}.png`, bytes(size, i));
      const r = await fetch(`${sim.url}/upload/image`, {
        method: 'POST',
        headers: { 'content-type': m.type },
        body: new Uint8Array(m.body),
      });
      assert.equal(r.status, 200);
    }
  });
  after(async () => {
    await server?.close();
    await sim?.close();
  });

  function requests(): Req[] {
    const out: Req[] = [
      { method: 'GET', path: '/' },
      { method: 'GET', path: '/assets/index-sim.js' },
      { method: 'GET', path: '/assets/index-sim.css' },
      { method: 'HEAD', path: '/assets/index-sim.js' },
      { method: 'GET', path: '/assets/index-sim.js', headers: { range: 'bytes=1000-99999' } },
      { method: 'GET', path: '/assets/index-sim.js', headers: { range: 'bytes=-500' } },
      { method: 'GET', path: '/assets/index-sim.js', headers: { range: 'bytes=99999999-' } },
      { method: 'GET', path: '/assets/index-sim.css', headers: { 'if-none-match': '"nope"' } },
      { method: 'GET', path: '/api/object_info/KSampler' },
      { method: 'GET', path: '/object_info' },
      { method: 'GET', path: '/api/features' },
      { method: 'GET', path: '/api/embeddings' },
      { method: 'GET', path: '/api/models/checkpoints' },
      { method: 'GET', path: '/api/no-such-route' },
      { method: 'HEAD', path: '/api/object_info/KSampler' },
      { method: 'GET', path: '/view?filename=missing.png&type=input' },
    ];
    for (const [i, size] of SIZES.entries()) {
      out.push({ method: 'GET', path: `/view?filename=file-${i}.png&type=input` });
      out.push({ method: 'HEAD', path: `/api/view?filename=file-${i}.png&type=input` });
      out.push({
        method: 'POST',
        path: '/sim/echo',
        headers: { 'content-type': 'application/octet-stream' },
        body: bytes(size, 100 + i),
      });
      if (size <= 2_000_000) {
        const m = multipart(`up-${i}.png`, bytes(size, 200 + i));
        out.push({
          method: 'POST',
          path: '/api/upload/image',
          headers: { 'content-type': m.type },
          body: m.body,
        });
      }
    }
    return out;
  }

  async function compare(r: Req): Promise<void> {
    const direct = await send(sim.url, r);
    const through = await send(server.url, r);
    const what = `${r.method} ${r.path} ${JSON.stringify(r.headers ?? {})}`;
    assert.equal(through.status, direct.status, what);
    assert.equal(through.type, direct.type, what);
    assert.equal(through.etag, direct.etag, what);
    assert.equal(through.range, direct.range, what);
    if (r.method === 'HEAD') assert.equal(through.length, direct.length, what);
    assert.equal(through.body.length, direct.body.length, `${what}: body length`);
    assert.ok(through.body.equals(direct.body), `${what}: body bytes`);
  }

  it('answers 500 requests byte for byte, one after another and 20 at once', async () => {
    const base = requests();
    const all: Req[] = [];
    while (all.length < 500) all.push(...base);
    all.length = 500;
    for (const r of all.slice(0, 150)) await compare(r);
    const rest = all.slice(150);
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < rest.length) await compare(rest[next++]!);
      }),
    );
  });

  it('revalidates a file: 304 passes through with its ETag and no body', async () => {
    const first = await send(server.url, { method: 'GET', path: '/assets/index-sim.js' });
    assert.equal(first.status, 200);
    const again = await send(server.url, {
      method: 'GET',
      path: '/assets/index-sim.js',
      headers: { 'if-none-match': first.etag! },
    });
    assert.equal(again.status, 304);
    assert.equal(again.etag, first.etag);
    assert.equal(again.body.length, 0);
  });

  it('cancels the worker request when the client goes away', async () => {
    const slow = await startSimulator({
      wire: { headerPauseMs: 0, chunkBytes: 16 * 1024, chunkPauseMs: 20 },
      webUi: 4 * 1024 * 1024,
    });
    const front = await startTestServer({ comfyUrls: [slow.url] });
    try {
      const stats = async () => (await (await fetch(`${slow.url}/sim/wire`)).json()) as { aborted: number };
      const before = (await stats()).aborted;
      const ac = new AbortController();
      const res = await fetch(`${front.url}/assets/index-sim.js`, { signal: ac.signal });
      const reader = res.body!.getReader();
      await reader.read();
      ac.abort();
      await reader.read().catch(() => undefined);
      let after = before;
      for (let i = 0; i < 400 && after === before; i++) {
        await new Promise((r) => setImmediate(r));
        after = (await stats()).aborted;
      }
      assert.equal(after, before + 1, 'the worker saw its answer abandoned');
    } finally {
      await front.close();
      await slow.close();
    }
  });

  it('cuts the answer when the worker dies mid-body, and answers 502 when it is gone', async () => {
    const slow = await startSimulator({
      wire: { headerPauseMs: 0, chunkBytes: 16 * 1024, chunkPauseMs: 20 },
      webUi: 4 * 1024 * 1024,
    });
    const front = await startTestServer({ comfyUrls: [slow.url] });
    try {
      const res = await fetch(`${front.url}/assets/index-sim.js`);
      assert.equal(res.status, 200);
      const reader = res.body!.getReader();
      await reader.read();
      await slow.close();
      await assert.rejects(async () => {
        for (;;) if ((await reader.read()).done) break;
      }, 'a cut body is an error, never a short success');
      const gone = await fetch(`${front.url}/api/system_stats`);
      assert.equal(gone.status, 502);
      const body = (await gone.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'WORKER_UNAVAILABLE');
      assert.match(body.error.message, /No ComfyUI worker answered/);
    } finally {
      await front.close();
      await slow.close().catch(() => undefined);
    }
  });
});

describe('the pass-through only ever talks to its worker', () => {
  let sim: RunningSimulator;
  let server: Server_;
  let decoy: Server;
  let decoyHits = 0;
  let decoyPort = 0;

  before(async () => {
    decoy = createServer((_req, res) => {
      decoyHits++;
      res.end('secret');
    });
    await new Promise<void>((r) => decoy.listen(0, '127.0.0.2', r));
    decoyPort = (decoy.address() as { port: number }).port;
    sim = await startSimulator({});
    server = await startTestServer({ comfyUrls: [sim.url], token: 'tok-123' });
  });
  after(async () => {
    await server?.close();
    await sim?.close();
    await new Promise((r) => decoy.close(r));
  });

  function raw(target: string): Promise<string> {
    const u = new URL(server.url);
    return new Promise((resolve, reject) => {
      const s = connect(Number(u.port), u.hostname, () => {
        s.write(
          `GET ${target} HTTP/1.1\r\nHost: ${u.host}\r\nAuthorization: Bearer tok-123\r\nConnection: close\r\n\r\n`,
        );
      });
      let text = '';
      s.setEncoding('latin1');
      s.on('data', (d) => {
        text += d;
      });
      s.on('end', () => resolve(text));
      s.on('error', reject);
    });
  }

  for (const form of [
    '//127.0.0.2:PORT/secret.txt',
    'http://127.0.0.2:PORT/secret.txt',
    '/\\127.0.0.2:PORT/secret.txt',
  ]) {
    it(`never fetches another host for ${form}`, async () => {
      const answer = await raw(form.replace('PORT', String(decoyPort)));
      assert.match(answer, /^HTTP\/1\.1 [45]\d\d /, answer.slice(0, 200));
      assert.ok(!answer.includes('secret\r') && !answer.endsWith('secret'), answer);
      assert.equal(decoyHits, 0);
    });
  }

  it('refuses a page of another origin on every method, as the worker itself would', async () => {
    const res = await fetch(`${server.url}/api/object_info`, {
      headers: { origin: 'http://evil.example', authorization: 'Bearer tok-123' },
    });
    assert.equal(res.status, 403);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'FORBIDDEN_ORIGIN');
    const same = await fetch(`${server.url}/api/object_info/KSampler`, {
      headers: { origin: server.url, authorization: 'Bearer tok-123' },
    });
    assert.equal(same.status, 200);
  });

  it("never forwards comfy-queue's token, in a header or the query", async () => {
    const res = await fetch(`${server.url}/sim/echo?token=tok-123&keep=1`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer tok-123',
        'x-comfy-queue-token': 'tok-123',
        'content-type': 'text/plain',
      },
      body: 'hi',
    });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'hi');
    const seen = JSON.parse(decodeURIComponent(res.headers.get('x-sim-request')!)) as {
      url: string;
      headers: Record<string, string>;
    };
    assert.equal(seen.url, '/sim/echo?keep=1');
    assert.equal(seen.headers.authorization, undefined);
    assert.equal(seen.headers['x-comfy-queue-token'], undefined);
    assert.ok(!JSON.stringify(seen).includes('tok-123'));
  });
});

describe('the way in', () => {
  it('leads / to the dashboard when the worker has no web UI, and when no worker answers', async () => {
    const sim = await startSimulator({});
    const server = await startTestServer({ comfyUrls: [sim.url] });
    try {
      const res = await fetch(`${server.url}/`, { redirect: 'manual' });
      assert.equal(res.status, 302);
      assert.equal(res.headers.get('location'), '/dashboard/');
      const ui = (await (await fetch(`${server.url}/api/pqueue/comfyui`)).json()) as { available: boolean };
      assert.equal(ui.available, false);
      await sim.close();
      const down = await fetch(`${server.url}/`, { redirect: 'manual' });
      assert.equal(down.status, 302);
      assert.equal(down.headers.get('location'), '/dashboard/');
    } finally {
      await server.close();
      await sim.close().catch(() => undefined);
    }
  });

  it("serves ComfyUI's own UI at / when the worker has one", async () => {
    const sim = await startSimulator({ webUi: true });
    const server = await startTestServer({ comfyUrls: [sim.url] });
    try {
      const res = await fetch(`${server.url}/`, { redirect: 'manual' });
      assert.equal(res.status, 200);
      assert.match(await res.text(), /<title>ComfyUI<\/title>/);
      const ui = (await (await fetch(`${server.url}/api/pqueue/comfyui`)).json()) as { available: boolean };
      assert.equal(ui.available, true);
    } finally {
      await server.close();
      await sim.close();
    }
  });
});
