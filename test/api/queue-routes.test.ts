import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startSimulator } from '../../src/sim/index.js';
import { http, startTestServer, t2iPrompt } from '../helpers/harness.js';

type Sim = Awaited<ReturnType<typeof startSimulator>>;
type Server = Awaited<ReturnType<typeof startTestServer>>;

describe('queue handling routes', () => {
  let sim: Sim;
  let server: Server;
  const ids: string[] = [];
  const order = async () =>
    ((await http('GET', `${server.url}/api/admin/queue?limit=100`)).body.jobs as { prompt_id: string }[]).map(
      (c) => ids.indexOf(c.prompt_id),
    );

  before(async () => {
    sim = await startSimulator({ port: 0, stepMs: 10 });
    server = await startTestServer({ comfyUrls: [sim.url] });
    await http('POST', `${server.url}/api/pqueue/pause`);
    for (let i = 0; i < 6; i++) {
      const r = await http('POST', `${server.url}/api/pqueue/jobs`, {
        name: i % 2 ? `odd ${i}` : `even ${i}`,
        prompt: t2iPrompt(2, i),
      });
      ids.push(r.body.prompt_id);
    }
  });
  after(async () => {
    await server?.close();
    await sim?.close();
  });

  test('bad bodies are refused with stable codes', async () => {
    for (const body of [
      {},
      { action: 'explode', prompt_ids: [ids[0]] },
      { action: 'top', prompt_ids: [] },
      { action: 'top', match: { q: 1 } },
    ]) {
      const r = await http('POST', `${server.url}/api/pqueue/bulk`, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.error.code, 'INVALID_BODY');
    }
    const m = await http('POST', `${server.url}/api/pqueue/jobs/${ids[0]}/move`, { by: 2 });
    assert.equal(m.body.error.code, 'INVALID_BODY');
    const missing = await http(
      'POST',
      `${server.url}/api/pqueue/jobs/00000000-0000-4000-8000-000000000000/move`,
      { by: 1 },
    );
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'JOB_NOT_FOUND');
  });

  test('move by one place, and to the top and bottom by a search', async () => {
    assert.deepEqual(await order(), [0, 1, 2, 3, 4, 5]);
    const r = await http('POST', `${server.url}/api/pqueue/jobs/${ids[2]}/move`, { by: -1 });
    assert.equal(r.body.moved, true);
    assert.deepEqual(await order(), [0, 2, 1, 3, 4, 5]);
    const edge = await http('POST', `${server.url}/api/pqueue/jobs/${ids[0]}/move`, { by: -1 });
    assert.equal(edge.body.moved, false);
    const top = await http('POST', `${server.url}/api/pqueue/bulk`, {
      action: 'top',
      match: { q: 'odd' },
      except: [ids[3]],
    });
    assert.deepEqual(top.body, { action: 'top', count: 2 });
    assert.deepEqual(await order(), [1, 5, 0, 2, 3, 4]);
    await http('POST', `${server.url}/api/pqueue/bulk`, { action: 'bottom', prompt_ids: [ids[1]] });
    assert.deepEqual(await order(), [5, 0, 2, 3, 4, 1]);
  });

  test('the admin queue pages through the pending jobs and filters them', async () => {
    const page = (await http('GET', `${server.url}/api/admin/queue?limit=2&offset=2`)).body;
    assert.deepEqual(
      page.jobs.map((c: { prompt_id: string }) => ids.indexOf(c.prompt_id)),
      [2, 3],
    );
    assert.equal(page.pending_total, 6);
    const odd = (await http('GET', `${server.url}/api/admin/queue?q=odd&limit=10`)).body;
    assert.equal(odd.matched, 3);
    assert.deepEqual(
      odd.jobs.map((c: { prompt_id: string }) => ids.indexOf(c.prompt_id)),
      [5, 3, 1],
    );
  });

  test('delete all matching a search; pending jobs only', async () => {
    const r = await http('POST', `${server.url}/api/pqueue/bulk`, { action: 'delete', match: { q: 'even' } });
    assert.deepEqual(r.body, { action: 'delete', count: 3 });
    assert.deepEqual(await order(), [5, 3, 1]);
  });

  test('stats: a window out of the list is refused; a window answers per-worker figures', async () => {
    const bad = await http('GET', `${server.url}/api/pqueue/stats?window=2y`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'INVALID_QUERY');
    const s = (await http('GET', `${server.url}/api/pqueue/stats?window=24h`)).body;
    assert.equal(s.window, '24h');
    assert.equal(s.buckets.length, 48);
    assert.deepEqual(s.workers, []);
    assert.equal(s.completed, 0);
  });
});
