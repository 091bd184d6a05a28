import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { resolveServeConfig } from '../../src/cli/config.js';
import { startTestServer } from '../helpers/harness.js';

describe('cross-origin access for listed origins only', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  before(async () => {
    server = await startTestServer({
      comfyUrls: ['http://127.0.0.1:9'],
      token: 'tok',
      allowOrigins: ['http://127.0.0.1:8188'],
    });
  });
  after(() => server.close());

  test('a listed origin gets a preflight answer without the token, and its requests are marked', async () => {
    const pre = await fetch(`${server.url}/api/pqueue`, {
      method: 'OPTIONS',
      headers: { origin: 'http://127.0.0.1:8188', 'access-control-request-method': 'GET' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'http://127.0.0.1:8188');
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /authorization/);
    const get = await fetch(`${server.url}/api/pqueue`, {
      headers: { origin: 'http://127.0.0.1:8188', authorization: 'Bearer tok' },
    });
    assert.equal(get.status, 200);
    assert.equal(get.headers.get('access-control-allow-origin'), 'http://127.0.0.1:8188');
    const noToken = await fetch(`${server.url}/api/pqueue`, { headers: { origin: 'http://127.0.0.1:8188' } });
    assert.equal(noToken.status, 401);
  });

  test('another origin gets no CORS headers', async () => {
    const pre = await fetch(`${server.url}/api/pqueue`, {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(pre.headers.get('access-control-allow-origin'), null);
    const get = await fetch(`${server.url}/api/pqueue`, {
      headers: { origin: 'http://evil.example', authorization: 'Bearer tok' },
    });
    assert.equal(get.headers.get('access-control-allow-origin'), null);
  });

  test('--allow-origin takes origins only', () => {
    assert.deepEqual(resolveServeConfig(['--allow-origin', 'http://127.0.0.1:8188/'], {}).allowOrigins, [
      'http://127.0.0.1:8188',
    ]);
    assert.throws(() => resolveServeConfig(['--allow-origin', 'http://x:1/path'], {}), /--allow-origin/);
    assert.throws(() => resolveServeConfig(['--allow-origin', '*'], {}), /--allow-origin/);
  });
});
