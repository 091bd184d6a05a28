import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { startSimulator } from '../../src/sim/index.js';
import { EventClient } from '../helpers/event-client.js';
import {
  type ChildServer,
  CLI,
  http,
  ROOT,
  spawnServe,
  spawnSim,
  startTestServer,
  t2iPrompt,
  tempDir,
  until,
  waitForStatus,
} from '../helpers/harness.js';

/** Two SaveImage nodes of two images each, and a preview (a temp file, not collected). */
function fourImages(seed: number): Record<string, unknown> {
  const p = t2iPrompt(1, seed, 'shot') as Record<string, { inputs: Record<string, unknown> }>;
  p['5']!.inputs.batch_size = 2;
  return {
    ...p,
    '10': { class_type: 'SaveImage', inputs: { filename_prefix: 'sub/dir/alt', images: ['8', 0] } },
    '11': { class_type: 'PreviewImage', inputs: { images: ['8', 0] } },
  };
}

async function viewBytes(simUrl: string, f: { filename: string; subfolder: string; type: string }) {
  const q = new URLSearchParams(f);
  const res = await fetch(`${simUrl}/view?${q}`);
  assert.equal(res.status, 200);
  return Buffer.from(await res.arrayBuffer());
}

function filesOf(outputs: Record<string, Record<string, unknown>>) {
  return Object.values(outputs)
    .flatMap((n) => (n.images as { filename: string; subfolder: string; type: string }[]) ?? [])
    .filter((f) => f.type === 'output');
}

async function waitCollected(base: string, id: string, timeoutMs = 60_000): Promise<any> {
  return until(
    async () => {
      const r = await http('GET', `${base}/api/pqueue/jobs/${id}`);
      return r.body?.collection?.state === 'stored' ? r.body : undefined;
    },
    `the outputs of ${id} to be stored`,
    timeoutMs,
  );
}

describe('outputs collected into a folder', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  test('every output file, byte for byte as the worker serves it, under its key; served back by the API', async () => {
    const sim = await startSimulator({ port: 0, stepMs: 1 });
    cleanups.push(() => sim.close());
    const server = await startTestServer({ comfyUrls: [sim.url] });
    const data = server.dataDir;
    cleanups.push(async () => {
      await server.close();
      tempDirRemove(data);
    });
    const events = await EventClient.connect(server.url);
    cleanups.push(() => events.close());
    const many = await http('POST', `${server.url}/api/pqueue/jobs`, { prompt: fourImages(7) });
    const one = await http('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(1, 8) });
    assert.equal(many.status, 201, many.text);

    const job = await waitCollected(server.url, many.body.prompt_id);
    await until(async () => {
      const h = await http('GET', `${server.url}/api/pqueue/history?limit=5`);
      const j = h.body.jobs.find((x: { prompt_id: string }) => x.prompt_id === job.prompt_id);
      return j?.has_thumbnail ? true : undefined;
    }, 'the thumbnail');
    // The collector and the thumbnail queue both read the first image: the worker served it once.
    const views = (await http('GET', `${sim.url}/sim/views`)).body as Record<string, number>;
    for (const f of filesOf(job.outputs))
      assert.equal(views[`${f.type}/${f.subfolder}/${f.filename}`], 1, f.filename);
    const day = new Date(job.created_at).toISOString().slice(0, 10);
    const files = filesOf(job.outputs);
    assert.equal(files.length, 4);
    assert.equal(job.collection.target, `file://${join(data, 'outputs')}`);
    assert.equal(job.collection.error, null);
    assert.deepEqual(
      job.collection.files.map((f: { n: number; key: string }) => [f.n, f.key]),
      [1, 2, 3, 4].map((n) => [n, `jobs/${day}/${job.prompt_id}_${n}.png`]),
    );
    for (const [i, f] of files.entries()) {
      const want = await viewBytes(sim.url, f);
      const entry = job.collection.files[i];
      assert.equal(entry.bytes, want.length);
      assert.deepEqual(readFileSync(join(data, 'outputs', entry.key)), want, entry.key);
      const served = await fetch(`${server.url}/api/pqueue/jobs/${job.prompt_id}/outputs/${i + 1}`);
      assert.equal(served.status, 200);
      assert.equal(served.headers.get('content-type'), 'image/png');
      assert.deepEqual(Buffer.from(await served.arrayBuffer()), want);
    }

    const told = await events.waitForText(
      (m) => m.type === 'job.collected' && m.job_id === job.prompt_id,
      'job.collected on the event websocket',
    );
    assert.equal(told.state, 'stored');
    assert.deepEqual(
      told.files,
      job.collection.files.map((f: { key: string; bytes: number }) => ({ key: f.key, bytes: f.bytes })),
    );

    const single = await waitCollected(server.url, one.body.prompt_id);
    await until(async () => {
      const h = await http('GET', `${server.url}/api/pqueue/history?limit=5`);
      const j = h.body.jobs.find((x: { prompt_id: string }) => x.prompt_id === single.prompt_id);
      return j?.has_thumbnail ? true : undefined;
    }, 'the thumbnail');
    // The collector and the thumbnail queue both read its one image: the worker served it once.
    const [image] = filesOf(single.outputs);
    const served = (await http('GET', `${sim.url}/sim/views`)).body as Record<string, number>;
    assert.equal(served[`${image!.type}/${image!.subfolder}/${image!.filename}`], 1);
    assert.deepEqual(
      single.collection.files.map((f: { key: string }) => f.key),
      [`jobs/${day}/${single.prompt_id}.png`],
    );
    assert.deepEqual(readdirSync(join(data, 'outputs', '.partial')), []);

    const refusals: [string, number, string][] = [
      [`${job.prompt_id}/outputs/5`, 404, 'OUTPUT_NOT_FOUND'],
      [`${job.prompt_id}/outputs/0`, 404, 'OUTPUT_NOT_FOUND'],
      [`${job.prompt_id}/outputs/x`, 404, 'OUTPUT_NOT_FOUND'],
      ['not-a-uuid/outputs/1', 400, 'INVALID_ID'],
      ['0b6f0c1e-1c1d-4a51-9d1a-5b0f6f1f2a3b/outputs/1', 404, 'JOB_NOT_FOUND'],
    ];
    for (const [path, status, code] of refusals) {
      const r = await http('GET', `${server.url}/api/pqueue/jobs/${path}`);
      assert.equal(r.status, status, path);
      assert.equal(r.body.error.code, code, path);
    }
    await http('POST', `${server.url}/api/pqueue/pause`);
    const pending = await http('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(1, 9) });
    const notYet = await http('GET', `${server.url}/api/pqueue/jobs/${pending.body.prompt_id}/outputs/1`);
    assert.equal(notYet.status, 404);
    assert.equal(notYet.body.error.code, 'OUTPUT_NOT_COLLECTED');
    assert.equal(
      (await http('GET', `${server.url}/api/pqueue/jobs/${pending.body.prompt_id}`)).body.collection,
      null,
    );
  });

  test('--collect off: nothing is copied and jobs say so', async () => {
    const sim = await startSimulator({ port: 0, stepMs: 1 });
    cleanups.push(() => sim.close());
    const server = await startTestServer({ comfyUrls: [sim.url], collect: { kind: 'off' } });
    cleanups.push(async () => {
      await server.close();
      tempDirRemove(server.dataDir);
    });
    const r = await http('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(1, 4) });
    const job = await waitForStatus(server.url, r.body.prompt_id, ['completed']);
    assert.deepEqual(job.collection, { state: 'off', target: null, files: [], attempts: 0, error: null });
    assert.equal(existsSync(join(server.dataDir, 'outputs')), false);
  });
});

function tempDirRemove(path: string): void {
  rmSync(path, { recursive: true, force: true });
}

describe('collection survives kill -9', () => {
  const procs: ChildServer[] = [];
  const dirs: { remove(): void }[] = [];
  after(async () => {
    for (const p of procs) await p.kill();
    for (const d of dirs) d.remove();
  });

  test('jobs that completed before the kill are collected after the restart, whatever was recorded', async () => {
    const data = tempDir();
    dirs.push(data);
    const sim = await spawnSim(0, ['--step-ms', '2']);
    procs.push(sim);
    let server = await spawnServe(['--data', data.path, '--comfy', sim.url]);
    procs.push(server);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await http('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(2, i) });
      assert.equal(r.status, 201, r.text);
      ids.push(r.body.prompt_id);
    }
    await waitCollected(server.url, ids[0]!);
    await server.kill('SIGKILL');

    // As if the kill had also come between a job's finish and its record: one stored record and its
    // file are taken away, and a write cut short is left in .partial.
    const db = new Database(join(data.path, 'comfy-queue.sqlite3'));
    const rows = db.prepare("SELECT job_id, files FROM collections WHERE state = 'stored'").all() as {
      job_id: string;
      files: string;
    }[];
    assert.ok(rows.length >= 1);
    db.prepare('DELETE FROM collections WHERE job_id = ?').run(rows[0]!.job_id);
    db.close();
    const outputs = join(data.path, 'outputs');
    for (const f of JSON.parse(rows[0]!.files) as { key: string }[]) {
      writeFileSync(join(outputs, f.key), 'a partial copy');
    }
    writeFileSync(join(outputs, '.partial', 'left-by-the-kill'), 'half');

    server = await spawnServe(['--data', data.path, '--comfy', sim.url]);
    procs.push(server);
    for (const id of ids) {
      const job = await waitCollected(server.url, id, 90_000);
      const files = filesOf(job.outputs);
      assert.equal(job.collection.files.length, files.length);
      for (const [i, f] of files.entries()) {
        assert.deepEqual(
          readFileSync(join(outputs, job.collection.files[i].key)),
          await viewBytes(sim.url, f),
        );
      }
    }
    assert.deepEqual(readdirSync(join(outputs, '.partial')), []);
  });

  test('a bad --collect is refused with one clear line', () => {
    for (const [value, env, expect] of [
      ['gs://bucket/x', {}, /--collect gs:\/\/bucket\/x: only folders and s3:\/\/bucket\/prefix/],
      [
        's3://renders',
        { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' },
        /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/,
      ],
      ['', {}, /give a folder, s3:\/\/bucket\/prefix or off/],
    ] as const) {
      const run = spawnSync(process.execPath, [CLI, 'serve', '--port', '0', '--collect', value], {
        cwd: ROOT,
        env: { ...process.env, ...env },
        encoding: 'utf8',
      });
      assert.equal(run.status, 2, run.stderr);
      assert.match(run.stderr, expect);
      assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    }
    const data = tempDir();
    dirs.push(data);
    writeFileSync(join(data.path, 'a-file'), '');
    const run = spawnSync(
      process.execPath,
      [
        CLI,
        'serve',
        '--port',
        '0',
        '--data',
        join(data.path, 'db'),
        '--collect',
        join(data.path, 'a-file', 'out'),
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /--collect .*a-file\/out: the folder cannot be used/);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
  });
});
