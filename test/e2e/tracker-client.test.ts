/**
 * The render tracker's flow through its own paths, driven by the Python
 * example client (examples/worker_client.py) as a studio's scripts would:
 * claim, report complete with a file, done, flag, reset; two clients never
 * get the same item; a client that vanishes gives its item back when its
 * lease ends.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { http, ROOT, startTestServer, t2iPrompt, tempDir, until } from '../helpers/harness.js';

const run = promisify(execFile);
const CLIENT = join(ROOT, 'examples/worker_client.py');

async function py(url: string, ...args: string[]): Promise<any> {
  try {
    const { stdout } = await run('python3', [CLIENT, url, ...args]);
    return JSON.parse(stdout);
  } catch (err) {
    const out = (err as { stdout?: string }).stdout;
    if (out) return JSON.parse(out);
    throw err;
  }
}

/** Runs `run` against a server of its own (no farm worker) holding one batch of `count` items. */
async function withBatch(
  options: { leaseMs?: number },
  batch: { name: string; count: number },
  run: (url: string) => Promise<void>,
): Promise<void> {
  const server = await startTestServer({ comfyUrls: [], ...options });
  try {
    const b = await http('POST', `${server.url}/api/pqueue/batches`, { ...batch, prompt: t2iPrompt(1, 0) });
    assert.equal(b.status, 201, b.text);
    await run(server.url);
  } finally {
    await server.close();
  }
}

describe('the render tracker with the Python client', () => {
  const files = tempDir();
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let batchId: number;

  before(async () => {
    // No farm worker: external scripts do all the rendering.
    server = await startTestServer({ comfyUrls: [] });
    const b = await http('POST', `${server.url}/api/pqueue/batches`, {
      name: 'tabs',
      prompt: t2iPrompt(1, 0),
      count: 40,
      seed: { start: 1 },
      items: Array.from({ length: 40 }, (_, i) => ({ hat: i % 2 ? 'red' : 'blue', id: i + 1 })),
      bindings: { hat: '6.inputs.text' },
    });
    assert.equal(b.status, 201, b.text);
    batchId = b.body.id;
  });
  after(async () => {
    await server.close();
    files.remove();
  });

  it('claims an item with its seed, traits and graph, reports it complete with a file, then done', async () => {
    const job = await py(server.url, 'next', '--worker', 'studio-1');
    assert.equal(job.index, 1);
    assert.equal(job.seed, 1);
    assert.deepEqual(job.traits, { hat: 'blue', id: 1 });
    assert.equal(job.prompt['6'].inputs.text, 'blue');
    assert.equal(job.prompt['9'].inputs.filename_prefix, 'tabs/1');

    const working = await py(server.url, 'status', job.job_id, 'working', '--worker', 'studio-1');
    assert.equal(working.status, 'working');
    const png = join(files.path, 'render.png');
    writeFileSync(png, Buffer.from('89504e470d0a1a0a-fake', 'utf8'));
    const complete = await py(
      server.url,
      'status',
      job.job_id,
      'complete',
      '--file',
      png,
      '--worker',
      'studio-1',
    );
    assert.equal(complete.status, 'complete');
    assert.deepEqual(
      readFileSync(join(server.dataDir, 'outputs', 'tabs', '1.png')),
      readFileSync(png),
      'the file is stored as <batch>/<index>',
    );
    const preview = await py(server.url, 'preview', 'tabs:1');
    assert.equal(preview.job_id, job.job_id);
    assert.deepEqual(preview.traits, { hat: 'blue', id: 1 });
    const image = await fetch(`${server.url}${preview.image}`);
    assert.equal(image.status, 200);
    assert.deepEqual(Buffer.from(await image.arrayBuffer()), readFileSync(png));

    const done = await py(server.url, 'status', 'tabs:1', 'done');
    assert.equal(done.status, 'done');
    const stats = await py(server.url, 'stats');
    assert.equal(stats.counts.done, 1);
    assert.equal(stats.counts.inactive, 39);
  });

  it('flags an item, and a reset runs it again as a new job with the same index', async () => {
    const flagged = await py(server.url, 'flag', 'tabs:1');
    assert.equal(flagged.status, 'flagged');
    const listed = await py(server.url, 'jobs', '--batch', 'tabs', '--status', 'flagged');
    assert.deepEqual(
      listed.jobs.map((j: any) => j.index),
      [1],
    );
    const reset = await py(server.url, 'reset', 'tabs:1');
    assert.equal(reset.status, 'inactive');
    assert.equal(reset.index, 1);
    assert.notEqual(reset.job_id, flagged.job_id);
    const again = await py(server.url, 'preview', 'tabs:1');
    assert.equal(again.job_id, reset.job_id);
    // The earlier run keeps its outputs as history.
    const old = await http('GET', `${server.url}/api/pqueue/jobs/${flagged.job_id}`);
    assert.equal(old.body.status, 'completed');
  });

  it('never gives two clients the same item', async () => {
    const claims = await Promise.all(
      Array.from({ length: 12 }, (_, i) => py(server.url, 'next', '--worker', `racer-${i % 4}`)),
    );
    const ids = claims.map((c) => c.job_id);
    assert.equal(new Set(ids).size, ids.length);
    await Promise.all(
      claims.map((c) =>
        py(
          server.url,
          'status',
          c.job_id,
          'complete',
          '--url',
          `s3://bucket/${c.index}.png`,
          '--worker',
          c.worker,
        ),
      ),
    );
    const errors = await py(server.url, 'status', claims[0].job_id, 'complete', '--worker', 'someone-else');
    assert.equal(errors.error.code, 'NOT_CLAIMED');
  });

  it('gives each of many clients asking at once an item of its own, while items are pending', async () => {
    // Twenty claims sent together, all reading the same queue head first.
    await withBatch({}, { name: 'crowd', count: 30 }, async (url) => {
      const claims = await Promise.all(
        Array.from({ length: 20 }, (_, i) => http('GET', `${url}/next-job?worker=crowd-${i}`)),
      );
      assert.deepEqual(
        claims.map((c) => c.status),
        Array(20).fill(200),
        'no client is told that nothing is pending',
      );
      const ids = claims.map((c) => c.body.job_id);
      assert.equal(new Set(ids).size, 20);
    });
  });

  it('gives the item of a client that vanished back when its lease ends', async () => {
    // A short lease, so that the other cases never see a claim lapse.
    await withBatch({ leaseMs: 1_500 }, { name: 'v', count: 3 }, async (url) => {
      const gone = await py(url, 'next', '--worker', 'vanishing');
      await until(async () => {
        const p = await py(url, 'preview', gone.job_id);
        return p.status === 'inactive' ? true : undefined;
      }, 'the expired claim to come back');
      const next = await py(url, 'next', '--worker', 'heir');
      assert.equal(next.job_id, gone.job_id, 'the returned item is next in line');
      const late = await py(url, 'status', gone.job_id, 'complete', '--worker', 'vanishing');
      assert.equal(late.error.code, 'NOT_CLAIMED', 'a report of the lapsed claim is refused');
    });
  });

  it('lists with several statuses, an index range and a cursor, and answers under /api/pqueue/tracker', async () => {
    const page1 = await http(
      'GET',
      `${server.url}/api/pqueue/tracker/jobs?batch=${batchId}&status=inactive,complete&from=2&to=40&limit=5`,
    );
    assert.equal(page1.status, 200);
    assert.equal(page1.body.jobs.length, 5);
    const page2 = await http(
      'GET',
      `${server.url}/api/pqueue/tracker/jobs?batch=${batchId}&status=inactive&status=complete&from=2&to=40&limit=5&cursor=${page1.body.next_cursor}`,
    );
    assert.ok(page2.body.jobs[0].index > page1.body.jobs[4].index);
    const red = await http('GET', `${server.url}/api/pqueue/tracker/jobs?batch=tabs&q=red&limit=100`);
    assert.ok(red.body.jobs.length > 0 && red.body.jobs.every((j: any) => j.traits.hat === 'red'));
    const bad = await http('GET', `${server.url}/api/pqueue/tracker/jobs?status=sleeping`);
    assert.notEqual(
      (await http('GET', `${server.url}/jobs`)).status,
      200,
      "a bare /jobs stays ComfyUI's (none)",
    );
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'INVALID_QUERY');
    const missing = await http('POST', `${server.url}/job/nosuch:1/flag`, {});
    assert.equal(missing.body.error.code, 'BATCH_NOT_FOUND');
  });

  it('answers 204 when nothing is pending', async () => {
    await http('POST', `${server.url}/api/pqueue/batches/${batchId}/pause`);
    const r = await fetch(`${server.url}/next-job?worker=idle`);
    assert.equal(r.status, 204);
    await http('POST', `${server.url}/api/pqueue/batches/${batchId}/resume`);
  });
});
