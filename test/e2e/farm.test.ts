import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  type ChildServer,
  http,
  simExecutions,
  spawnSim,
  startTestServer,
  t2iPrompt,
  until,
  waitForStatus,
} from '../helpers/harness.js';

describe('several workers', () => {
  const procs: ChildServer[] = [];
  let server: Awaited<ReturnType<typeof startTestServer>> | null = null;
  after(async () => {
    await server?.close();
    for (const p of procs) await p.kill();
  });

  test('jobs spread over the workers; a worker that dies for good gives its job to another', async () => {
    const a = await spawnSim(0, ['--step-ms', '20']);
    const b = await spawnSim(0, ['--step-ms', '20']);
    procs.push(a, b);
    server = await startTestServer({
      comfyUrls: [a.url, b.url],
      offlineTimeoutMs: 400,
      pollMs: 100,
      workerCapacity: 1,
    });
    const base = server.url;
    await until(
      async () => (server!.workers.every((w) => w.state === 'online') ? true : undefined),
      'workers online',
    );

    const first = (await http('POST', `${base}/api/pqueue/jobs`, { prompt: t2iPrompt(200, 1) })).body
      .prompt_id;
    const second = (await http('POST', `${base}/api/pqueue/jobs`, { prompt: t2iPrompt(200, 2) })).body
      .prompt_id;
    const j1 = await waitForStatus(base, first, ['in_progress']);
    const j2 = await waitForStatus(base, second, ['in_progress']);
    assert.notEqual(j1.worker, j2.worker, 'each worker takes one job');

    const victim = j1.worker === 'w1' ? a : b;
    const survivor = victim === a ? b : a;
    await until(async () => ((await simExecutions(victim.url)).length > 0 ? true : undefined), 'victim busy');
    await victim.kill('SIGKILL');

    const done = await waitForStatus(base, first, ['completed', 'failed'], 60_000);
    assert.equal(done.status, 'completed');
    assert.notEqual(done.worker, j1.worker);
    assert.equal(done.attempts, 2);
    const onSurvivor = (await simExecutions(survivor.url)).map((e) => e.prompt_id);
    assert.ok(onSurvivor.includes(first));
    await waitForStatus(base, second, ['completed']);
    const w = server.workers.find((x) => x.id === j1.worker)!;
    assert.equal(w.state, 'offline');
  });
});
