import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PUSH_INTERVAL_MS } from '../../src/domain/push-throttle.js';
import { startSimulator } from '../../src/sim/index.js';
import { EventClient } from '../helpers/event-client.js';
import { http, startTestServer, t2iPrompt } from '../helpers/harness.js';

type Sim = Awaited<ReturnType<typeof startSimulator>>;
type Server = Awaited<ReturnType<typeof startTestServer>>;

const JPEG = [0xff, 0xd8];

describe('the event websocket against the simulator', () => {
  let sim: Sim;
  let server: Server;
  let base: string;
  const clients: EventClient[] = [];

  async function connect(query = ''): Promise<EventClient> {
    const c = await EventClient.connect(base, query);
    clients.push(c);
    return c;
  }

  before(async () => {
    sim = await startSimulator({ port: 0, stepMs: 15 });
    server = await startTestServer({ comfyUrls: [sim.url], workerCapacity: 1 });
    base = server.url;
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
    await sim.close();
  });

  test('a client sees queued, started, rising progress, previews and finished, in order', async () => {
    const c = await connect();
    const first = await c.waitFor(() => true, 'the first message');
    assert.equal(first.kind, 'text');
    assert.equal((first as { msg: any }).msg.type, 'snapshot');

    const r = await http('POST', `${base}/api/pqueue/jobs`, { prompt: t2iPrompt(40), name: 'ws cat' });
    assert.equal(r.status, 201);
    const id: string = r.body.prompt_id;
    await c.waitForText((m) => m.type === 'job.finished' && m.job.prompt_id === id, 'job.finished');

    const mine = c.received.filter((x) =>
      x.kind === 'preview' ? x.meta.job_id === id : x.msg.job?.prompt_id === id || x.msg.job_id === id,
    );
    // A job queued while the worker still connects may first say why it waits (job.waiting).
    const kinds = mine
      .map((x) => (x.kind === 'preview' ? 'preview' : x.msg.type))
      .filter((k) => k !== 'job.waiting');
    assert.equal(kinds[0], 'job.queued');
    assert.equal(kinds[1], 'job.started');
    assert.equal(kinds.at(-1), 'job.finished');
    assert.ok(kinds.indexOf('progress') > 1);

    const progress = mine.filter((x) => x.kind === 'text' && x.msg.type === 'progress') as {
      at: number;
      msg: any;
    }[];
    assert.ok(progress.length >= 3, `only ${progress.length} progress messages`);
    const percents = progress.map((p) => p.msg.progress.percent);
    for (let i = 1; i < percents.length; i++) assert.ok(percents[i]! >= percents[i - 1]!, `${percents}`);
    assert.ok(percents.at(-1)! > percents[0]!, `percent did not rise: ${percents}`);
    assert.ok(progress.every((p) => p.msg.worker === 'w1' && p.msg.progress.promptId === id));
    const revisions = progress.map((p) => p.msg.progress.revision);
    assert.equal(new Set(revisions).size, revisions.length, 'a revision was pushed twice');

    // The rate property: never two pushes of one job within PUSH_INTERVAL_MS, by the server's stamps...
    for (let i = 1; i < progress.length; i++) {
      const gap = progress[i]!.msg.at - progress[i - 1]!.msg.at;
      assert.ok(gap >= PUSH_INTERVAL_MS, `server-side gap of ${gap} ms`);
    }
    // ...and as received (delivery jitter on a loaded machine can shift one message by a few ms).
    for (let i = 1; i < progress.length; i++) {
      const gap = progress[i]!.at - progress[i - 1]!.at;
      assert.ok(gap >= PUSH_INTERVAL_MS - 50, `received gap of ${gap.toFixed(1)} ms`);
    }

    const previews = mine.filter((x) => x.kind === 'preview');
    assert.ok(previews.length > 0, 'no preview arrived');
    for (const p of previews) {
      assert.equal(p.meta.worker, 'w1');
      assert.equal(p.meta.prompt_id, id);
      assert.equal(p.meta.image_type, 'image/jpeg');
      assert.deepEqual([...p.image.subarray(0, 2)], JPEG);
    }
    const firstPreview = kinds.indexOf('preview');
    assert.ok(firstPreview > kinds.indexOf('job.started') && firstPreview < kinds.indexOf('job.finished'));
  });

  test('a client that connects late gets the running job, its progress and latest preview first', async () => {
    const early = await connect();
    const r = await http('POST', `${base}/api/pqueue/jobs`, { prompt: t2iPrompt(400), name: 'long cat' });
    const id: string = r.body.prompt_id;
    await early.waitForText(
      (m) => m.type === 'progress' && m.job_id === id && m.progress.percent > 0,
      'progress of the long job',
    );
    await early.waitFor((x) => x.kind === 'preview' && x.meta.job_id === id, 'a preview of the long job');

    const late = await connect();
    const snap = await late.waitFor(() => true, 'the snapshot');
    assert.equal(snap.kind, 'text');
    const s = (snap as { msg: any }).msg;
    assert.equal(s.type, 'snapshot');
    assert.equal(s.paused, false);
    const running = s.running.find((x: any) => x.job.prompt_id === id);
    assert.ok(running, 'the running job is in the snapshot');
    assert.equal(running.job.status, 'in_progress');
    assert.ok(running.progress.percent > 0);
    assert.deepEqual(
      s.workers.map((w: any) => [w.id, w.state, w.jobs]),
      [['w1', 'online', [id]]],
    );
    assert.deepEqual(s.previews, [id]);
    const next = await late.waitFor((x) => x !== snap, 'the message after the snapshot');
    assert.equal(next.kind, 'preview');
    assert.equal((next as { meta: any }).meta.job_id, id);

    await http('POST', `${base}/api/pqueue/jobs/${id}/cancel`);
    const ended = await late.waitForText(
      (m) => m.type === 'job.cancelled' && m.job.prompt_id === id,
      'cancel',
    );
    assert.equal(ended.job.status, 'cancelled');
  });

  test('pause, resume and reorder are relayed as they happen', async () => {
    const c = await connect();
    await c.waitForText((m) => m.type === 'snapshot', 'snapshot');
    await http('POST', `${base}/api/pqueue/pause`);
    await c.waitForText((m) => m.type === 'queue.paused', 'queue.paused');
    await http('POST', `${base}/api/pqueue/resume`);
    await c.waitForText((m) => m.type === 'queue.resumed', 'queue.resumed');
  });

  test('GET /api/admin/queue lists running jobs first, then the queue, as cards', async () => {
    await http('POST', `${base}/api/pqueue/pause`);
    const running = await http('POST', `${base}/api/pqueue/jobs`, {
      prompt: t2iPrompt(400),
      name: 'running',
    });
    const prompt = t2iPrompt(2, 1234) as any;
    prompt['10'] = { class_type: 'LoadImage', inputs: { image: 'refs/dog.png' } };
    prompt['9'].inputs.filename_prefix = 'portraits/2024/cat';
    prompt['6'].inputs.text = `a cat ${'very '.repeat(60)}fluffy`;
    const queued = await http('POST', `${base}/api/pqueue/jobs`, {
      prompt,
      workflow: { id: 'b1c4a0e2-6f1e-4e7d-9a51-4a7f3a0c2d11', nodes: [] },
    });
    const c = await connect();
    await http('POST', `${base}/api/pqueue/reorder`, {
      prompt_ids: [queued.body.prompt_id, running.body.prompt_id],
    });
    await c.waitForText((m) => m.type === 'queue.reordered', 'queue.reordered');
    await http('POST', `${base}/api/pqueue/resume`);
    await c.waitForText(
      (m) => m.type === 'job.started' && m.job.prompt_id === queued.body.prompt_id,
      'the reordered job to start',
    );
    // Handed to the worker, it is "waiting" until ComfyUI starts it: its progress says when.
    await c.waitForText(
      (m) => m.type === 'progress' && m.job_id === queued.body.prompt_id && m.progress?.status !== 'queued',
      'the reordered job to run',
    );

    const q = await http('GET', `${base}/api/admin/queue`);
    assert.equal(q.status, 200);
    assert.equal(q.body.paused, false);
    const ids = q.body.jobs.map((j: any) => j.prompt_id);
    assert.equal(ids[0], queued.body.prompt_id);
    const card = q.body.jobs[0];
    assert.equal(card.status, 'running');
    assert.equal(card.seed, 1234);
    assert.equal(card.output_folder, 'portraits/2024');
    assert.equal(card.workflow_id, 'b1c4a0e2-6f1e-4e7d-9a51-4a7f3a0c2d11');
    assert.ok(card.prompt_excerpt.startsWith('a cat very'));
    assert.ok(card.prompt_excerpt.endsWith('…'));
    assert.equal(card.thumbnail.source, 'input');
    assert.equal(card.thumbnail.url, '/view?filename=dog.png&subfolder=refs&type=input');
    assert.equal(typeof card.queued_at, 'number');
    assert.equal(typeof card.workflow_name, 'string');
    const later = q.body.jobs.find((j: any) => j.prompt_id === running.body.prompt_id);
    assert.equal(later.status, 'queued');
    assert.equal(later.thumbnail, null);
    assert.equal(later.prompt_excerpt, 'a cat');
    assert.equal(later.output_folder, '');

    await http('POST', `${base}/api/pqueue/jobs/${running.body.prompt_id}/cancel`);
    await http('POST', `${base}/api/pqueue/jobs/${queued.body.prompt_id}/cancel`);
  });

  test('GET /api/admin/telemetry reports the host and each worker', async () => {
    const t = await http('GET', `${base}/api/admin/telemetry`);
    assert.equal(t.status, 200);
    const { host, workers } = t.body;
    assert.equal(typeof t.body.at, 'number');
    assert.ok(host.cpu.cores >= 1);
    assert.ok(host.ram.total > 0 && host.ram.used >= 0 && host.ram.percent >= 0);
    assert.ok(host.disk.total > 0 && host.disk.free >= 0);
    assert.equal(host.disk.path, server.dataDir.replace(/\/$/, ''));
    assert.ok(Array.isArray(host.gpus));
    assert.equal(workers.length, 1);
    assert.equal(workers[0].id, 'w1');
    assert.equal(workers[0].state, 'online');
    assert.equal(workers[0].fresh, true);
    assert.ok(workers[0].ram_total > 0);
    assert.equal(workers[0].devices[0].type, 'cuda');
    assert.ok(workers[0].devices[0].vram_total > workers[0].devices[0].vram_free);
  });

  test('telemetry is pushed on the websocket while a client listens', async () => {
    const c = await connect();
    const t = await c.waitForText((m) => m.type === 'telemetry', 'a telemetry message');
    assert.equal(t.workers[0].id, 'w1');
    assert.ok(t.host.ram.total > 0);
  });
});

describe('the event websocket with a token', () => {
  let sim: Sim;
  let server: Server;

  before(async () => {
    sim = await startSimulator({ port: 0, stepMs: 5 });
    server = await startTestServer({ comfyUrls: [sim.url], token: 's3cret' });
  });
  after(async () => {
    await server.close();
    await sim.close();
  });

  test('is refused without the token and served with ?token=', async () => {
    await assert.rejects(EventClient.connect(server.url), /HTTP 401/);
    await assert.rejects(EventClient.connect(server.url, '?token=wrong'), /HTTP 401/);
    const c = await EventClient.connect(server.url, '?token=s3cret');
    const first = await c.waitForText(() => true, 'the snapshot');
    assert.equal(first.type, 'snapshot');
    await c.close();
  });
});

describe("the live monitor's addresses of old", () => {
  test('/admin/queue opens the dashboard queue; /api/run/ws is the event websocket', async () => {
    const sim = await startSimulator({ port: 0, stepMs: 1 });
    const server = await startTestServer({ comfyUrls: [sim.url] });
    try {
      const r = await fetch(`${server.url}/admin/queue`, { redirect: 'manual' });
      assert.equal(r.status, 302);
      assert.equal(r.headers.get('location'), '/dashboard/#/queue');
      const c = await EventClient.connect(server.url, '', '/api/run/ws');
      const first = await c.waitFor((m) => m.kind === 'text', 'the snapshot');
      assert.equal((first as { msg: { type: string } }).msg.type, 'snapshot');
      await c.close();
    } finally {
      await server.close();
      await sim.close();
    }
  });
});
