/**
 * The whole server when its database cannot be written: a disk that fills up
 * while jobs flow through a simulated worker, and another process that holds
 * the database's write lock.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { QueueError } from '../../src/domain/errors.js';
import { startSimulator } from '../../src/sim/index.js';
import {
  http,
  simExecutions,
  startTestServer,
  t2iPrompt,
  tempDir,
  until,
  waitForStatus,
} from '../helpers/harness.js';
import { mountSmallDisk } from '../helpers/small-disk.js';

type Closer = () => Promise<void> | void;

describe('the store cannot write', () => {
  const closers: Closer[] = [];
  after(async () => {
    for (const close of closers.reverse()) await close();
  });

  const disk = mountSmallDisk(4);
  const skip = 'reason' in disk ? disk.reason : false;
  if (skip) process.stdout.write(`# disk-full test skipped: ${skip}\n`);
  // Unmounted last, also when its test is not run.
  after(() => {
    if (!('reason' in disk)) disk.unmount();
  });

  test('a full disk: no job runs twice, acknowledged jobs survive, writes answer 507, and writing resumes by itself', {
    skip,
  }, async () => {
    if ('reason' in disk) return;
    const sim = await startSimulator({ port: 0, stepMs: 25 });
    closers.push(() => sim.close());
    const server = await startTestServer({ comfyUrls: [sim.url], dataDir: disk.path });
    closers.push(() => server.close());

    const acked: string[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await http('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(4, i) });
      assert.equal(r.status, 201, r.text);
      acked.push(r.body.prompt_id);
    }
    await until(async () => ((await simExecutions(sim.url)).length >= 2 ? true : undefined), 'jobs running');

    disk.fill();
    const endedAtFill = (await simExecutions(sim.url)).filter((e) => e.end !== null).length;
    // Jobs big enough that the database must grow, until the disk refuses one.
    let refused: { status: number; body: any; text: string } | null = null;
    for (let i = 0; i < 50 && !refused; i++) {
      const prompt = t2iPrompt(1, 100 + i) as Record<string, { inputs: Record<string, unknown> }>;
      prompt['6']!.inputs.text = `a cat ${'very '.repeat(40_000)}`;
      const r = await http('POST', `${server.url}/api/pqueue/jobs`, { prompt });
      if (r.status === 201) acked.push(r.body.prompt_id);
      else refused = r;
    }
    assert.ok(refused, 'the full disk refused an enqueue');
    assert.equal(refused.status, 507, refused.text);
    assert.equal(refused.body.error.code, 'STORE_FULL');
    assert.match(refused.body.error.message, /Free space in the data folder/);

    // A job ends on the worker while the disk is full: its outcome cannot be recorded yet.
    await until(
      async () =>
        (await simExecutions(sim.url)).filter((e) => e.end !== null).length > endedAtFill ? true : undefined,
      'a job to end on the worker',
    );
    const full = await http('GET', `${server.url}/api/pqueue`);
    assert.equal(full.status, 200);
    assert.equal(full.body.store.state, 'full');
    assert.match(full.body.store.message, /full/);
    assert.ok(full.body.counts.in_progress >= 1, 'the job whose outcome waits is still held');
    for (const id of acked)
      assert.equal((await http('GET', `${server.url}/api/pqueue/jobs/${id}`)).status, 200);

    disk.free();
    for (const id of acked) {
      const job = await waitForStatus(server.url, id, ['completed', 'failed', 'cancelled'], 60_000);
      assert.equal(job.status, 'completed', `${id}: ${JSON.stringify(job.error)}`);
    }
    const runs = await simExecutions(sim.url);
    for (const id of acked) {
      assert.equal(runs.filter((e) => e.prompt_id === id).length, 1, `${id} ran once`);
    }
    assert.equal(runs.length, acked.length, 'nothing else ran');
    const ok = await http('GET', `${server.url}/api/pqueue`);
    assert.equal(ok.body.store.state, 'ok');
    assert.equal(ok.body.counts.in_progress, 0);
    assert.equal(ok.body.counts.pending, 0);
  });

  test('a claim and a report the store refuses are retried: the job runs once, stays held, and is recorded', async () => {
    const sim = await startSimulator({ port: 0, stepMs: 1 });
    closers.push(() => sim.close());
    const data = tempDir();
    closers.push(() => data.remove());
    const server = await startTestServer({ comfyUrls: [sim.url], dataDir: data.path });
    closers.push(() => server.close());
    await until(async () => (server.workers[0]!.state === 'online' ? true : undefined), 'the worker online');

    const store = server.store;
    const refuse = () => new QueueError('STORE_BUSY', 'locked (test)');
    // The scheduler claims the job routing chose (claimJob).
    const claimJob = store.claimJob.bind(store);
    let claimsRefused = 0;
    store.claimJob = (...args) => (claimsRefused++ === 0 ? Promise.reject(refuse()) : claimJob(...args));
    const finishAndClaim = store.finishAndClaim.bind(store);
    const heldWhileRefused: boolean[] = [];
    store.finishAndClaim = (id, ...rest) => {
      if (heldWhileRefused.length < 3) {
        heldWhileRefused.push(server.workers[0]!.heldJobIds().includes(id));
        return Promise.reject(refuse());
      }
      return finishAndClaim(id, ...rest);
    };

    const id = (await http('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(1, 7) })).body
      .prompt_id;
    const job = await waitForStatus(server.url, id, ['completed', 'failed', 'cancelled']);
    assert.equal(job.status, 'completed');
    assert.ok(claimsRefused >= 2, 'the refused claim was tried again');
    // The first refusal comes as the report is handed over; after it the driver holds the job again.
    assert.deepEqual(heldWhileRefused, [false, true, true]);
    assert.deepEqual(server.workers[0]!.heldJobIds(), []);
    assert.equal((await simExecutions(sim.url)).filter((e) => e.prompt_id === id).length, 1);
  });

  test('a locked database: reads answer, writes answer 503 STORE_BUSY after the busy timeout', async () => {
    const sim = await startSimulator({ port: 0, stepMs: 1 });
    closers.push(() => sim.close());
    const data = tempDir();
    closers.push(() => data.remove());
    const server = await startTestServer({ comfyUrls: [sim.url], dataDir: data.path, storeBusyMs: 150 });
    closers.push(() => server.close());
    const id = (await http('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(1, 1) })).body
      .prompt_id;
    await waitForStatus(server.url, id, ['completed']);

    const other = new Database(server.dbFile);
    other.exec('BEGIN IMMEDIATE');
    try {
      const queue = await http('GET', `${server.url}/api/pqueue`);
      assert.equal(queue.status, 200);
      const history = await http('GET', `${server.url}/api/pqueue/history`);
      assert.equal(history.status, 200, history.text);
      assert.ok(JSON.stringify(history.body).includes(id));
      assert.equal((await http('GET', `${server.url}/api/pqueue/jobs/${id}`)).status, 200);

      const refused = await http('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(1, 2) });
      assert.equal(refused.status, 503, refused.text);
      assert.equal(refused.body.error.code, 'STORE_BUSY');
      assert.match(refused.body.error.message, /locked by another process/);
      const flag = await http('POST', `${server.url}/api/pqueue/jobs/${id}/flag`, { flagged: true });
      assert.equal(flag.status, 503, flag.text);
      const locked = await http('GET', `${server.url}/api/pqueue`);
      assert.equal(locked.body.store.state, 'locked');
      assert.match(locked.body.store.message, /locked by another process/);
    } finally {
      other.exec('COMMIT');
      other.close();
    }
    const again = await http('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(1, 3) });
    assert.equal(again.status, 201, again.text);
    await waitForStatus(server.url, again.body.prompt_id, ['completed']);
    assert.equal((await http('GET', `${server.url}/api/pqueue`)).body.store.state, 'ok');
  });

  test('a write waiting for the lock does not hold up reads, and commits once the lock goes', async () => {
    const sim = await startSimulator({ port: 0, stepMs: 1 });
    closers.push(() => sim.close());
    const data = tempDir();
    closers.push(() => data.remove());
    // Long enough that the write is still waiting whenever the reads are answered.
    const server = await startTestServer({ comfyUrls: [sim.url], dataDir: data.path, storeBusyMs: 120_000 });
    closers.push(() => server.close());

    const other = new Database(server.dbFile);
    other.exec('BEGIN IMMEDIATE');
    let answered = false;
    const received = once(server.app.server, 'request');
    const write = http('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(1, 4) }).finally(() => {
      answered = true;
    });
    await received;
    try {
      for (const path of ['/api/pqueue', '/api/pqueue/history']) {
        const r = await http('GET', `${server.url}${path}`);
        assert.equal(r.status, 200, r.text);
      }
      assert.equal(answered, false, 'the write waits for the lock');
    } finally {
      other.exec('COMMIT');
      other.close();
    }
    const r = await write;
    assert.equal(r.status, 201, r.text);
    await waitForStatus(server.url, r.body.prompt_id, ['completed']);
  });
});
