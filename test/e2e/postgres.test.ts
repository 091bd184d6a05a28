/**
 * comfy-queue serving from PostgreSQL (`serve --db postgres://…`) against
 * the simulator, as a user runs it: jobs run to completion, a SIGKILL and a
 * restart lose nothing and run nothing twice, the paused flag and the order
 * (after a reorder and queue moves) survive, completed jobs' outputs are
 * collected. Several servers on one database: cluster.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runCli } from '../helpers/cli-run.js';
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
import { freshSchema, requirePostgres, TEST_PG_URL } from '../helpers/postgres.js';

function dbUrl(schema: string): string {
  const u = new URL(TEST_PG_URL);
  u.searchParams.set('schema', schema);
  return u.toString();
}

describe('serving from PostgreSQL', () => {
  const dirs: { remove(): void }[] = [];
  const procs: ChildServer[] = [];
  after(async () => {
    for (const p of procs) await p.kill();
    for (const d of dirs) d.remove();
  });

  test('runs every job once, through a SIGKILL and a restart, and keeps the paused flag and the order', async () => {
    await requirePostgres();
    const db = dbUrl(freshSchema('e2e_serve'));
    const migrated = await runCli(['migrate', '--db', db]);
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.match(migrated.stdout, /database ready/);
    const sim = await spawnSim(0, ['--step-ms', '10']);
    procs.push(sim);
    // The queue is in the database; the data folder keeps the server's id, so that the restarted
    // server drives its worker again at once (another server would wait for its worker lease).
    const data = tempDir();
    dirs.push(data);
    const start = async () => {
      const s = await spawnServe(['--data', data.path, '--comfy', sim.url, '--db', db]);
      procs.push(s);
      return s;
    };
    let server = await start();
    assert.match(server.output(), /database: postgres:\/\//);

    const ids: string[] = [];
    for (let i = 0; i < 16; i++) {
      const r = await http('POST', `${server.url}/api/pqueue/jobs`, {
        prompt: t2iPrompt(4, i),
        name: `pg ${i}`,
      });
      assert.equal(r.status, 201, r.text);
      ids.push(r.body.prompt_id);
    }
    await until(
      async () => ((await simExecutions(sim.url)).length >= 3 ? true : undefined),
      'three executions',
    );
    await server.kill('SIGKILL');
    server = await start();
    for (const id of ids) {
      const job = await waitForStatus(server.url, id, ['completed', 'failed', 'cancelled'], 60_000);
      assert.equal(job.status, 'completed', `${id}: ${JSON.stringify(job.error)}`);
    }
    const runs = await simExecutions(sim.url);
    for (const id of ids) {
      const mine = runs.filter((e) => e.prompt_id === id);
      assert.equal(mine.length, 1, `${id} executed ${mine.length} times`);
    }
    const history = await http('GET', `${server.url}/api/jobs?status=completed&limit=100`);
    assert.equal(history.status, 200);
    assert.equal(history.body.jobs.length, ids.length);
    const found = await http('GET', `${server.url}/api/pqueue/history?q=${encodeURIComponent('PG 7')}`);
    assert.equal(found.status, 200, found.text);
    // Both words must match, each as a prefix, case ignored: only the job named "pg 7".
    assert.deepEqual(
      found.body.jobs.map((j: any) => j.prompt_id ?? j.id),
      [ids[7]],
    );

    // Paused, with a reordered queue: both survive a SIGKILL.
    await http('POST', `${server.url}/api/pqueue/pause`);
    const more: string[] = [];
    for (let i = 0; i < 4; i++)
      more.push(
        (await http('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(1, 100 + i) })).body
          .prompt_id,
      );
    await http('POST', `${server.url}/api/pqueue/reorder`, { prompt_ids: [more[3], more[2]] });
    // Queue moves: one job to the top, another down one place.
    const top = await http('POST', `${server.url}/api/pqueue/bulk`, { action: 'top', prompt_ids: [more[1]] });
    assert.deepEqual(top.body, { action: 'top', count: 1 }, top.text);
    const down = await http('POST', `${server.url}/api/pqueue/jobs/${more[3]}/move`, { by: 1 });
    assert.equal(down.body.moved, true, down.text);
    const order = (await http('GET', `${server.url}/api/pqueue`)).body.pending.map((j: any) => j.prompt_id);
    assert.deepEqual(order, [more[1], more[2], more[3], more[0]]);
    await server.kill('SIGKILL');
    server = await start();
    assert.match(server.output(), /queue: paused/);
    const q = await http('GET', `${server.url}/api/pqueue`);
    assert.equal(q.body.paused, true);
    assert.deepEqual(
      q.body.pending.map((j: any) => j.prompt_id),
      order,
    );
    await http('POST', `${server.url}/api/pqueue/resume`);
    for (const id of more) await waitForStatus(server.url, id, ['completed']);
    const after = await http('GET', `${server.url}/api/pqueue`);
    assert.deepEqual(after.body.counts, {
      pending: 0,
      in_progress: 0,
      completed: 20,
      failed: 0,
      cancelled: 0,
    });
  });

  test("collects a completed job's outputs into the data folder (collection on by default)", async () => {
    await requirePostgres();
    const db = dbUrl(freshSchema('e2e_collect'));
    const data = tempDir();
    dirs.push(data);
    const server = await spawnServe(['--data', data.path, '--simulate', '1', '--db', db]);
    procs.push(server);
    const r = await http('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(2, 7) });
    assert.equal(r.status, 201, r.text);
    const id: string = r.body.prompt_id;
    await waitForStatus(server.url, id, ['completed']);
    const collection = await until(async () => {
      const job = await http('GET', `${server.url}/api/pqueue/jobs/${id}`);
      return job.body.collection?.state === 'stored' ? job.body.collection : undefined;
    }, 'the outputs stored');
    assert.match(collection.target, /^file:\/\//);
    assert.ok(collection.files.length >= 1);
    const key: string = collection.files[0].key;
    assert.ok(existsSync(join(data.path, 'outputs', key)), `${key} in the collect folder`);
    const file = await fetch(`${server.url}/api/pqueue/jobs/${id}/outputs/1`);
    assert.equal(file.status, 200);
    assert.equal(file.headers.get('content-type'), 'image/png');
    assert.equal((await file.arrayBuffer()).byteLength, collection.files[0].bytes);
    await server.kill();
  });

  test('--db takes a PostgreSQL URL only', async () => {
    const r = await runCli(['serve', '--db', './queue.sqlite3']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--db takes a PostgreSQL URL/);
  });
});
