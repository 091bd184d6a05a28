import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startSimulator } from '../../src/sim/index.js';
import { http, startTestServer, t2iPrompt, tempDir, waitForStatus } from '../helpers/harness.js';

type Sim = Awaited<ReturnType<typeof startSimulator>>;

let sim: Sim;
const data = tempDir();

before(async () => {
  sim = await startSimulator({ port: 0, stepMs: 10 });
});
after(async () => {
  await sim.close();
  data.remove();
});

test('pending jobs get start estimates from earlier runs of their workflow, also after a restart', async () => {
  let server = await startTestServer({ comfyUrls: [sim.url], dataDir: data.path, workerCapacity: 1 });
  try {
    for (const seed of [1, 2]) {
      const r = await http('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(5, seed) });
      await waitForStatus(server.url, r.body.prompt_id, ['completed']);
    }
    await http('POST', `${server.url}/api/pqueue/pause`);
    const a = await http('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(5, 3) });
    const b = await http('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(5, 4) });
    const unknown = await http('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(7, 5) });
    const q = (await http('GET', `${server.url}/api/pqueue`)).body;
    const est = (id: string) => q.pending.find((j: any) => j.prompt_id === id).estimate;
    assert.ok(est(a.body.prompt_id).expected_ms > 0);
    assert.equal(est(a.body.prompt_id).starts_in_ms, 0);
    assert.equal(est(b.body.prompt_id).starts_in_ms, est(a.body.prompt_id).expected_ms);
    assert.match(est(b.body.prompt_id).starts_in, /^starts in/);
    assert.equal(est(unknown.body.prompt_id).expected_ms, null);
    const cards = (await http('GET', `${server.url}/api/admin/queue`)).body.jobs;
    const card = cards.find((c: any) => c.prompt_id === b.body.prompt_id).estimate;
    assert.equal(card.expected_ms, est(b.body.prompt_id).expected_ms);
    assert.equal(card.starts_in_ms, est(b.body.prompt_id).starts_in_ms);
  } finally {
    await server.close();
  }
  server = await startTestServer({ comfyUrls: [sim.url], dataDir: data.path, workerCapacity: 1 });
  try {
    const q = (await http('GET', `${server.url}/api/pqueue`)).body;
    assert.ok(q.paused);
    assert.ok(q.pending[0].estimate.expected_ms > 0, 'the history was read at start-up');
  } finally {
    await server.close();
  }
});
