import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli-run.js';
import { startTestServer, t2iPrompt, tempDir } from '../helpers/harness.js';

interface Seen {
  method: string;
  url: string;
  body: unknown;
}

/** An HTTP server that records each request and answers like POST /api/pqueue/jobs. */
async function recorder(): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let s = '';
      req.on('data', (c: Buffer) => {
        s += c.toString();
      });
      req.on('end', () => resolve(s));
    });
  const server = createServer(async (req, res) => {
    const text = await read(req);
    seen.push({ method: req.method ?? '', url: req.url ?? '', body: text ? JSON.parse(text) : null });
    const id = randomUUID();
    res.writeHead(req.url === '/api/pqueue/jobs' ? 201 : 200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        prompt_id: id,
        name: null,
        display_name: `job ${id.slice(0, 8)}`,
        status: 'pending',
        priority: 0,
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

test('an API graph is sent wrapped as {prompt}; a UI workflow is sent unchanged, its name and priority set after', async () => {
  const dir = tempDir();
  const rec = await recorder();
  try {
    const graph = t2iPrompt(2, 5);
    const ui = {
      last_node_id: 2,
      last_link_id: 0,
      nodes: [{ id: 1, type: 'KSampler', widgets_values: [5, 'fixed'] }],
      links: [],
      version: 0.4,
    };
    writeFileSync(join(dir.path, 'api.json'), JSON.stringify(graph));
    writeFileSync(join(dir.path, 'ui.json'), JSON.stringify(ui));
    const r = await runCli(
      ['submit', join(dir.path, 'api.json'), join(dir.path, 'ui.json'), '--name', 'n', '--priority', '2'],
      { COMFY_QUEUE_SERVER: rec.url },
    );
    assert.equal(r.code, 0, r.stderr);
    const posts = rec.seen.filter((s) => s.url === '/api/pqueue/jobs');
    assert.deepEqual(posts[0]?.body, { prompt: graph, name: 'n', priority: 2 });
    assert.deepEqual(posts[1]?.body, ui);
    const after = rec.seen.slice(2).map((s) => `${s.method} ${s.url}`);
    assert.deepEqual(after, ['PATCH /api/pqueue/rename', 'PATCH /api/pqueue/priority']);
  } finally {
    await rec.close();
    dir.remove();
  }
});

test('with a token: refused without it (exit 1, says how), accepted from --token or the environment, --wait included', async () => {
  const server = await startTestServer({ comfyUrls: [], simulate: 1, simStepMs: 5, token: 's3cret' });
  const dir = tempDir();
  try {
    const env = { COMFY_QUEUE_SERVER: server.url };
    const no = await runCli(['ls'], env);
    assert.equal(no.code, 1);
    assert.match(no.stderr, /UNAUTHORIZED, HTTP 401.*--token/);
    assert.equal((await runCli(['ls', '--token', 's3cret'], env)).code, 0);
    assert.equal((await runCli(['ls'], { ...env, COMFY_QUEUE_TOKEN: 's3cret' })).code, 0);
    const f = join(dir.path, 'job.json');
    writeFileSync(f, JSON.stringify(t2iPrompt(2, 1)));
    const waited = await runCli(['submit', f, '--wait', '--token', 's3cret'], env);
    assert.equal(waited.code, 0, waited.stderr);
    assert.match(waited.stdout, /^1 completed$/m);
  } finally {
    await server.close();
    dir.remove();
  }
});
