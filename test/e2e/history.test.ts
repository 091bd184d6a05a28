import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { PromptGraph } from '../../src/domain/job.js';
import { MemoryEventBus } from '../../src/engine/events.js';
import { ThumbnailQueue } from '../../src/engine/thumbnail-queue.js';
import { shrinkToPng } from '../../src/media/thumbnail.js';
import { startSimulator } from '../../src/sim/index.js';
import { openStore } from '../../src/store/open-store.js';
import { http, startTestServer, t2iPrompt, tempDir, until, waitForStatus } from '../helpers/harness.js';
import { walkPng } from '../helpers/png-walk.js';

type Sim = Awaited<ReturnType<typeof startSimulator>>;
type Server = Awaited<ReturnType<typeof startTestServer>>;

async function png(url: string): Promise<{ headers: Headers; bytes: Buffer }> {
  const res = await fetch(url);
  assert.equal(res.status, 200, url);
  return { headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

describe('history against the simulator', () => {
  let sim: Sim;
  let server: Server;
  let base: string;
  const out = tempDir('cq-history-out-');

  before(async () => {
    sim = await startSimulator({ port: 0, stepMs: 1, outputDir: out.path });
    server = await startTestServer({ comfyUrls: [sim.url] });
    base = server.url;
  });
  after(async () => {
    await server.close();
    await sim.close();
    out.remove();
  });

  test('a finished job gets a thumbnail that carries the prompt and workflow it was sent with', async () => {
    const prompt = t2iPrompt(2, 77);
    (prompt['6'] as { inputs: { text: string } }).inputs.text = 'un chat à Paris, 東京の夜 🐱';
    const workflow = {
      id: 'wf-history',
      nodes: [{ id: 6, type: 'CLIPTextEncode', title: 'Invité ✓' }],
      version: 0.4,
    };
    const r = await http('POST', `${base}/api/pqueue/jobs`, {
      prompt,
      name: 'Nuit à Tōkyō',
      extra_data: { extra_pnginfo: { workflow } },
    });
    assert.equal(r.status, 201);
    const id = r.body.prompt_id as string;
    await waitForStatus(base, id, ['completed']);
    const item = await until(async () => {
      const h = await http('GET', `${base}/api/pqueue/history?q=tokyo`);
      const j = h.body.jobs.find((x: { prompt_id: string }) => x.prompt_id === id);
      return j?.has_thumbnail ? j : undefined;
    }, 'the thumbnail');
    assert.equal(item.outputs_count, 1);
    assert.equal(item.preview_output.nodeId, '9');
    assert.equal(item.workflow_id, 'wf-history');
    const thumb = await png(`${base}${item.thumb_url}`);
    assert.equal(thumb.headers.get('x-comfy-queue-image'), 'image');
    const walked = walkPng(thumb.bytes);
    assert.ok(walked.width <= 256 && walked.height <= 256);
    assert.deepEqual(JSON.parse(walked.text.prompt!), prompt);
    assert.deepEqual(JSON.parse(walked.text.workflow!), workflow);

    const preview = await png(`${base}/api/pqueue/preview?id=${id}&node=9&index=0&max=32`);
    const p = walkPng(preview.bytes);
    assert.ok(p.width <= 32 && p.height <= 32);
    assert.deepEqual(JSON.parse(p.text.workflow!), workflow);
    const byName = item.outputs['9'].images[0];
    const q = new URLSearchParams({
      filename: byName.filename,
      subfolder: byName.subfolder,
      type: byName.type,
    });
    assert.deepEqual(
      JSON.parse(walkPng((await png(`${base}/api/pqueue/preview?${q}`)).bytes).text.prompt!),
      prompt,
    );
    // Only files the job produced: any other name is 404 here, never asked of the worker.
    for (const other of [
      { filename: 'ComfyUI_99999_.png', subfolder: byName.subfolder, type: byName.type },
      { filename: byName.filename, subfolder: byName.subfolder, type: 'input' },
      { filename: byName.filename, subfolder: '..', type: byName.type },
    ]) {
      const r = await http('GET', `${base}/api/pqueue/preview?id=${id}&${new URLSearchParams(other)}`);
      assert.equal(r.status, 404, JSON.stringify(other));
      assert.equal(r.body.error.code, 'NOT_FOUND');
    }

    const wf = await fetch(`${base}/api/pqueue/jobs/${id}/workflow`);
    assert.match(
      wf.headers.get('content-disposition')!,
      /^attachment; filename="Nuit _ T_ky_\.json"; filename\*=UTF-8''Nuit%20%C3%A0%20T%C5%8Dky%C5%8D\.json$/,
    );
    assert.deepEqual(await wf.json(), workflow);
  });

  test('a job without an image output gets the placeholder, which still carries its API prompt', async () => {
    await http('POST', `${base}/api/pqueue/pause`);
    const prompt = t2iPrompt(1, 5);
    const r = await http('POST', `${base}/api/pqueue/jobs`, { prompt });
    const id = r.body.prompt_id as string;
    await http('POST', `${base}/api/pqueue/jobs/${id}/cancel`);
    await http('POST', `${base}/api/pqueue/resume`);
    const thumb = await png(`${base}/api/pqueue/history/thumb/${id}`);
    assert.equal(thumb.headers.get('x-comfy-queue-image'), 'placeholder');
    const walked = walkPng(thumb.bytes);
    assert.deepEqual(JSON.parse(walked.text.prompt!), prompt);
    assert.equal(walked.text.workflow, undefined);
    const wf = await fetch(`${base}/api/pqueue/jobs/${id}/workflow`);
    assert.equal(wf.headers.get('x-comfy-queue-workflow'), 'api');
    assert.match(wf.headers.get('content-disposition')!, /_api\.json"/);
    assert.deepEqual(await wf.json(), prompt);
  });

  test('a missing output file leaves the job completed with the placeholder', async () => {
    await http('POST', `${base}/api/pqueue/pause`); // no thumbnail is made while the file is removed
    const r = await http('POST', `${base}/api/pqueue/jobs`, { prompt: t2iPrompt(1, 9) });
    const id = r.body.prompt_id as string;
    await http('POST', `${base}/api/pqueue/resume`);
    const done = await waitForStatus(base, id, ['completed']);
    await server.thumbnails.idle();
    const image = done.outputs['9'].images[0];
    rmSync(join(out.path, image.subfolder, image.filename));
    // A thumbnail made before the file went is removed too, so the route has to try again.
    await server.store.deleteOldestThumbnails(1_000);
    const first = await png(`${base}/api/pqueue/history/thumb/${id}`);
    assert.equal(first.headers.get('x-comfy-queue-image'), 'placeholder');
    await server.thumbnails.idle();
    const again = await png(`${base}/api/pqueue/history/thumb/${id}`);
    assert.equal(again.headers.get('x-comfy-queue-image'), 'placeholder');
    assert.deepEqual(JSON.parse(walkPng(again.bytes).text.prompt!), t2iPrompt(1, 9));
    assert.equal((await http('GET', `${base}/api/pqueue/jobs/${id}`)).body.status, 'completed');
    // The worker answers 404 for the file it no longer has: so does the preview.
    const preview = await http('GET', `${base}/api/pqueue/preview?id=${id}&node=9&index=0`);
    assert.equal(preview.status, 404);
    assert.equal(preview.body.error.code, 'NOT_FOUND');
  });

  test('history filters, cursor pages, flag filter, bad parameters and delete by filter', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await http('POST', `${base}/api/pqueue/jobs`, {
        prompt: t2iPrompt(1, 4242 + i),
        name: `batch zebra ${i}`,
      });
      ids.push(r.body.prompt_id);
    }
    for (const id of ids) await waitForStatus(base, id, ['completed']);
    await http('POST', `${base}/api/pqueue/jobs/${ids[1]}/flag`, { flagged: true });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const qs = new URLSearchParams({ q: 'zebra', sort: 'execution_duration', order: 'asc', limit: '2' });
      if (cursor) qs.set('cursor', cursor);
      const page = await http('GET', `${base}/api/pqueue/history?${qs}`);
      assert.equal(page.status, 200);
      seen.push(...page.body.jobs.map((j: { prompt_id: string }) => j.prompt_id));
      cursor = page.body.next_cursor;
    } while (cursor);
    assert.deepEqual([...seen].sort(), [...ids].sort());
    const flagged = await http('GET', `${base}/api/pqueue/history?flagged=true&q=zebra&count=true`);
    assert.deepEqual(
      flagged.body.jobs.map((j: { prompt_id: string }) => j.prompt_id),
      [ids[1]],
    );
    assert.equal(flagged.body.total, 1);
    const seed = await http('GET', `${base}/api/pqueue/history?q=4243`);
    assert.deepEqual(
      seed.body.jobs.map((j: { prompt_id: string }) => j.prompt_id),
      [ids[1]],
    );
    const later = await http('GET', `${base}/api/pqueue/history?since=2999-01-01T00:00:00Z`);
    assert.deepEqual(later.body.jobs, []);
    for (const [qs, code] of [
      ['status=pending', 'INVALID_QUERY'],
      ['since=yesterday', 'INVALID_QUERY'],
      ['sort=name', 'INVALID_QUERY'],
      ['cursor=abc', 'INVALID_CURSOR'],
    ] as const) {
      const bad = await http('GET', `${base}/api/pqueue/history?${qs}`);
      assert.equal(bad.status, 400, qs);
      assert.equal(bad.body.error.code, code, qs);
    }
    const del = await http('POST', `${base}/api/pqueue/history/delete`, {
      filter: { q: 'zebra', flagged: false },
    });
    assert.deepEqual(del.body, { deleted: 4, skipped: [] });
    const left = await http('GET', `${base}/api/pqueue/history?q=zebra`);
    assert.deepEqual(
      left.body.jobs.map((j: { prompt_id: string }) => j.prompt_id),
      [ids[1]],
    );
    const one = await http('POST', `${base}/api/pqueue/history/delete`, { prompt_ids: [ids[1], ids[0]] });
    assert.deepEqual(one.body, { deleted: 1, skipped: [{ id: ids[0], reason: 'no job has this id' }] });
    assert.equal(await server.store.getThumbnail(ids[1]!), null);
  });
});

test('a worker that serves garbage for an output: no thumbnail, no retry, the job untouched', async () => {
  const store = await openStore({ kind: 'sqlite', file: ':memory:' });
  const bus = new MemoryEventBus();
  let fetches = 0;
  const queue = new ThumbnailQueue(store, bus, {
    fetchFile: async () => {
      fetches++;
      return Buffer.from('<html>502 Bad Gateway</html>');
    },
    make: (b) => shrinkToPng(b),
    now: () => 1,
  });
  try {
    const id = '00000000-0000-4000-8000-000000000001';
    await store.enqueue([
      {
        id,
        name: null,
        prompt: t2iPrompt(1) as PromptGraph,
        workflow: null,
        extraData: {},
        sensitive: null,
        clientId: null,
        priority: 0,
        front: false,
        createdAt: 1,
        targets: null,
        requeuedFrom: null,
      },
    ]);
    await store.claimNext('w1', 2, 100);
    const job = await store.finish(id, {
      status: 'completed',
      endedAt: 3,
      outputs: { '9': { images: [{ filename: 'x.png', subfolder: '', type: 'output' }] } },
    });
    bus.publish({ type: 'job.finished', job: job! });
    await queue.idle();
    assert.equal(queue.failures, 1);
    assert.equal(await store.getThumbnail(id), null);
    assert.equal(queue.request(job!), false);
    assert.equal(fetches, 1);
    assert.equal((await store.get(id))!.status, 'completed');
  } finally {
    queue.close();
    await store.close();
  }
});
