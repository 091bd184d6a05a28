import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  type ChildServer,
  http,
  simExecutions,
  spawnServe,
  spawnSim,
  t2iPrompt,
  tempDir,
  until,
  waitForStatus,
} from '../helpers/harness.js';

describe('crashes lose nothing and run nothing twice', () => {
  const dirs: { remove(): void }[] = [];
  const procs: ChildServer[] = [];
  after(async () => {
    for (const p of procs) await p.kill();
    for (const d of dirs) d.remove();
  });

  test('comfy-queue killed with SIGKILL mid-run, again and again', async () => {
    const data = tempDir();
    dirs.push(data);
    const sim = await spawnSim(0, ['--step-ms', '15']);
    procs.push(sim);
    let server = await spawnServe(['--data', data.path, '--comfy', sim.url]);
    procs.push(server);

    // Enqueued while paused, so that no job has run before the first round begins.
    await http('POST', `${server.url}/api/pqueue/pause`);
    const ids: string[] = [];
    for (let i = 0; i < 24; i++) {
      const r = await http('POST', `${server.url}/api/pqueue/jobs`, {
        prompt: t2iPrompt(8, i),
        name: `crash ${i}`,
      });
      assert.equal(r.status, 201, r.text);
      ids.push(r.body.prompt_id);
    }
    await http('POST', `${server.url}/api/pqueue/resume`);

    // On a loaded machine a restarted server may run every job left before the
    // test looks again; the rounds then end early, but at least one kill happens.
    let kills = 0;
    for (let round = 0; round < 4; round++) {
      const seen = (await simExecutions(sim.url)).length;
      // kill while the worker is busy with a job comfy-queue dispatched
      const next = await until(async () => {
        if ((await simExecutions(sim.url)).length > seen) return 'running';
        const q = await http('GET', `${server.url}/api/pqueue`);
        return q.body.counts.pending + q.body.counts.in_progress === 0 ? 'all done' : undefined;
      }, 'a new execution');
      if (next === 'all done') break;
      await server.kill('SIGKILL');
      kills++;
      server = await spawnServe(['--data', data.path, '--comfy', sim.url]);
      procs.push(server);
    }
    assert.ok(kills >= 1, 'comfy-queue was never killed mid-run');

    for (const id of ids) {
      const job = await waitForStatus(server.url, id, ['completed', 'failed', 'cancelled'], 60_000);
      assert.equal(job.status, 'completed', `${id}: ${JSON.stringify(job.error)}`);
    }
    const runs = await simExecutions(sim.url);
    for (const id of ids) {
      const mine = runs.filter((e) => e.prompt_id === id);
      assert.equal(mine.length, 1, `${id} executed ${mine.length} times`);
    }
    const q = await http('GET', `${server.url}/api/pqueue`);
    assert.equal(q.body.counts.pending, 0);
    assert.equal(q.body.counts.in_progress, 0);
  });

  test('the pending order and the paused flag survive a SIGKILL', async () => {
    const data = tempDir();
    dirs.push(data);
    const sim = await spawnSim(0, ['--step-ms', '1']);
    procs.push(sim);
    let server = await spawnServe(['--data', data.path, '--comfy', sim.url]);
    procs.push(server);
    await http('POST', `${server.url}/api/pqueue/pause`);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(
        (await http('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(1, i) })).body.prompt_id,
      );
    }
    await http('POST', `${server.url}/api/pqueue/reorder`, { prompt_ids: [ids[4], ids[3]] });
    const order = (await http('GET', `${server.url}/api/pqueue`)).body.pending.map((j: any) => j.prompt_id);
    await server.kill('SIGKILL');

    server = await spawnServe(['--data', data.path, '--comfy', sim.url]);
    procs.push(server);
    assert.match(server.output(), /queue: paused/);
    const q = await http('GET', `${server.url}/api/pqueue`);
    assert.equal(q.body.paused, true);
    assert.deepEqual(
      q.body.pending.map((j: any) => j.prompt_id),
      order,
    );
    assert.equal((await simExecutions(sim.url)).length, 0);
    await http('POST', `${server.url}/api/pqueue/resume`);
    for (const id of ids) await waitForStatus(server.url, id, ['completed']);
    const ran = (await simExecutions(sim.url)).map((e) => e.prompt_id);
    assert.deepEqual(ran, order);
  });

  test('a worker killed mid-job and restarted: the job runs again and completes', async () => {
    const data = tempDir();
    dirs.push(data);
    let sim = await spawnSim(0, ['--step-ms', '20']);
    procs.push(sim);
    const port = new URL(sim.url).port;
    const server = await spawnServe(['--data', data.path, '--comfy', sim.url]);
    procs.push(server);

    const id = (await http('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(40, 3) })).body
      .prompt_id;
    await until(
      async () => ((await simExecutions(sim.url)).some((e) => e.prompt_id === id) ? true : undefined),
      'start',
    );
    await sim.kill('SIGKILL');
    const during = await http('GET', `${server.url}/api/pqueue/jobs/${id}`);
    assert.equal(during.status, 200);

    sim = await spawnSim(Number(port), ['--step-ms', '1']);
    procs.push(sim);
    const job = await waitForStatus(server.url, id, ['completed', 'failed'], 60_000);
    assert.equal(job.status, 'completed');
    assert.equal(job.attempts, 2);
    const runs = (await simExecutions(sim.url)).filter((e) => e.prompt_id === id);
    assert.equal(runs.length, 1);
    assert.equal(server.proc.exitCode, null, 'the server is still running');
  });
});
