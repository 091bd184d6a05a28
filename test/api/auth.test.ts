import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { http, startTestServer } from '../helpers/harness.js';

describe('a server with a token', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  before(async () => {
    server = await startTestServer({ comfyUrls: ['http://127.0.0.1:9'], token: 'correct horse' });
  });
  after(() => server.close());

  test('refuses requests without the token or with a wrong one', async () => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer wrong' },
      { authorization: 'correct horse' },
    ];
    for (const headers of attempts) {
      const r = await http('GET', `${server.url}/api/pqueue`, undefined, headers);
      assert.equal(r.status, 401);
      assert.equal(r.body.error.code, 'UNAUTHORIZED');
    }
    const post = await http('POST', `${server.url}/api/pqueue/pause`);
    assert.equal(post.status, 401);
    assert.equal((await server.store.getSetting('queue.paused')) === 'true', false);
  });

  test('accepts the token as a bearer header, its own header, or a query parameter', async () => {
    assert.equal(
      (await http('GET', `${server.url}/api/pqueue`, undefined, { authorization: 'Bearer correct horse' }))
        .status,
      200,
    );
    assert.equal(
      (await http('GET', `${server.url}/api/pqueue`, undefined, { 'x-comfy-queue-token': 'correct horse' }))
        .status,
      200,
    );
    assert.equal((await http('GET', `${server.url}/api/pqueue?token=correct%20horse`)).status, 200);
  });

  test('the bearer scheme is case-insensitive', async () => {
    for (const scheme of ['bearer', 'BEARER', 'BeArEr']) {
      const r = await http('GET', `${server.url}/api/pqueue`, undefined, {
        authorization: `${scheme} correct horse`,
      });
      assert.equal(r.status, 200, scheme);
    }
    const wrong = await http('GET', `${server.url}/api/pqueue`, undefined, { authorization: 'bearer wrong' });
    assert.equal(wrong.status, 401);
  });
});
