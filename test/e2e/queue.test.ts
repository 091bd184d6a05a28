import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startSimulator } from '../../src/sim/index.js';
import {
  http,
  newId,
  simExecutions,
  startTestServer,
  t2iPrompt,
  until,
  waitForStatus,
} from '../helpers/harness.js';

type Sim = Awaited<ReturnType<typeof startSimulator>>;
type Server = Awaited<ReturnType<typeof startTestServer>>;

describe('the persistent queue against the simulator', () => {
  let sim: Sim;
  let server: Server;
  let base: string;

  before(async () => {
    sim = await startSimulator({ port: 0, stepMs: 5 });
    server = await startTestServer({ comfyUrls: [sim.url] });
    base = server.url;
  });
  after(async () => {
    await server.close();
    await sim.close();
  });

  test('a job is stored, runs on the worker and completes with its outputs', async () => {
    const r = await http('POST', `${base}/api/pqueue/jobs`, { prompt: t2iPrompt(3), name: 'first cat' });
    assert.equal(r.status, 201);
    assert.equal(r.body.name, 'first cat');
    assert.match(r.body.prompt_id, /^[0-9a-f-]{36}$/);
    const done = await waitForStatus(base, r.body.prompt_id, ['completed', 'failed']);
    assert.equal(done.status, 'completed', JSON.stringify(done.error));
    assert.equal(done.worker, 'w1');
    assert.equal(done.attempts, 1);
    assert.ok(done.started_at >= done.created_at);
    assert.ok(done.ended_at >= done.started_at);
    const images = done.outputs['9'].images;
    assert.equal(images.length, 1);
    assert.equal(images[0].type, 'output');
    const runs = (await simExecutions(sim.url)).filter((e) => e.prompt_id === r.body.prompt_id);
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.outcome, 'success');
  });

  test('a client-chosen prompt_id is kept and a duplicate is refused', async () => {
    const id = newId();
    const a = await http('POST', `${base}/api/pqueue/jobs`, { prompt: t2iPrompt(1), prompt_id: id });
    assert.equal(a.status, 201);
    assert.equal(a.body.prompt_id, id);
    const b = await http('POST', `${base}/api/pqueue/jobs`, { prompt: t2iPrompt(1), prompt_id: id });
    assert.equal(b.status, 409);
    assert.equal(b.body.error.code, 'DUPLICATE_ID');
    await waitForStatus(base, id, ['completed']);
  });

  test('malformed bodies are refused with 400 and nothing is stored', async () => {
    const before = (await http('GET', `${base}/api/pqueue`)).body.counts;
    const cases: [unknown, string][] = [
      ['{not json', 'INVALID_BODY'],
      [{}, 'INVALID_BODY'],
      [{ prompt: [] }, 'INVALID_BODY'],
      [{ prompt: {} }, 'INVALID_BODY'],
      [{ prompt: { '1': { inputs: {} } } }, 'INVALID_BODY'],
      [{ prompt: t2iPrompt(), priority: 1.5 }, 'INVALID_BODY'],
      [{ prompt: t2iPrompt(), prompt_id: 'NOT-A-UUID' }, 'INVALID_BODY'],
      [{ prompt: t2iPrompt(), surprise: true }, 'INVALID_BODY'],
    ];
    for (const [body, code] of cases) {
      const r = await http('POST', `${base}/api/pqueue/jobs`, body);
      assert.equal(r.status, 400, `${JSON.stringify(body)} → ${r.text}`);
      assert.equal(r.body.error.code, code);
      assert.equal(typeof r.body.error.message, 'string');
    }
    const afterCounts = (await http('GET', `${base}/api/pqueue`)).body.counts;
    assert.deepEqual(afterCounts, before);
  });

  test('a graph the worker refuses is answered 400 with ComfyUI’s error, and nothing is stored', async () => {
    const before = (await http('GET', `${base}/api/pqueue`)).body.counts;
    const prompt = t2iPrompt(1) as any;
    delete prompt['3'].inputs.steps; // ComfyUI: required_input_missing
    const r = await http('POST', `${base}/api/pqueue/jobs`, { prompt });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'INVALID_PROMPT');
    assert.equal(r.body.error.type, 'prompt_outputs_failed_validation');
    assert.equal(r.body.node_errors['3'].errors[0].type, 'required_input_missing');
    assert.deepEqual((await http('GET', `${base}/api/pqueue`)).body.counts, before);
  });

  test('pause holds dispatch; reorder and priority decide what the worker runs next; resume continues', async () => {
    await http('POST', `${base}/api/pqueue/pause`);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await http('POST', `${base}/api/pqueue/jobs`, {
        prompt: t2iPrompt(1, 100 + i),
        name: `j${i}`,
      });
      ids.push(r.body.prompt_id);
    }
    const q = await http('GET', `${base}/api/pqueue`);
    assert.equal(q.body.paused, true);
    assert.deepEqual(
      q.body.pending.map((j: any) => j.prompt_id),
      ids,
    );
    // move the last job to the front, and raise the third above everything
    assert.equal((await http('POST', `${base}/api/pqueue/reorder`, { prompt_ids: [ids[3]] })).status, 200);
    assert.equal(
      (await http('PATCH', `${base}/api/pqueue/priority`, { prompt_id: ids[2], priority: 5 })).status,
      200,
    );
    const expected = [ids[2], ids[3], ids[0], ids[1]];
    const q2 = await http('GET', `${base}/api/pqueue`);
    assert.deepEqual(
      q2.body.pending.map((j: any) => j.prompt_id),
      expected,
    );
    const seenBefore = (await simExecutions(sim.url)).length;
    await http('POST', `${base}/api/pqueue/resume`);
    for (const id of ids) await waitForStatus(base, id, ['completed']);
    const order = (await simExecutions(sim.url))
      .slice(seenBefore)
      .map((e) => e.prompt_id)
      .filter((id) => ids.includes(id));
    assert.deepEqual(order, expected);
  });

  test('rename, delete of pending jobs, cancel of a running job, and requeue', async () => {
    await http('POST', `${base}/api/pqueue/pause`);
    const a = (await http('POST', `${base}/api/pqueue/jobs`, { prompt: t2iPrompt(400, 7) })).body.prompt_id;
    const b = (await http('POST', `${base}/api/pqueue/jobs`, { prompt: t2iPrompt(1, 8) })).body.prompt_id;
    const renamed = await http('PATCH', `${base}/api/pqueue/rename`, { prompt_id: b, name: '  sunset  ' });
    assert.equal(renamed.body.name, 'sunset');
    const del = await http('POST', `${base}/api/pqueue/delete`, { prompt_ids: [b] });
    assert.deepEqual(del.body.deleted, [b]);
    assert.equal((await http('GET', `${base}/api/pqueue/jobs/${b}`)).status, 404);

    await http('POST', `${base}/api/pqueue/resume`);
    await waitForStatus(base, a, ['in_progress']);
    await until(
      async () => ((await simExecutions(sim.url)).some((e) => e.prompt_id === a) ? true : undefined),
      'sim start',
    );
    const busy = await http('POST', `${base}/api/pqueue/delete`, { prompt_ids: [a] });
    assert.deepEqual(busy.body.deleted, []);
    assert.equal(busy.body.skipped[0].id, a);
    const c = await http('POST', `${base}/api/pqueue/jobs/${a}/cancel`);
    assert.equal(c.status, 200);
    const cancelled = await waitForStatus(base, a, ['cancelled', 'completed', 'failed']);
    assert.equal(cancelled.status, 'cancelled');
    const again = await http('POST', `${base}/api/pqueue/jobs/${a}/cancel`);
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'NOT_CANCELLABLE');

    const rq = await http('POST', `${base}/api/pqueue/jobs/${a}/requeue`, {});
    assert.equal(rq.status, 201);
    assert.notEqual(rq.body.prompt_id, a);
    assert.equal(rq.body.requeued_from, a);
    assert.deepEqual(rq.body.prompt, cancelled.prompt);
    await http('POST', `${base}/api/pqueue/jobs/${rq.body.prompt_id}/cancel`);
    await waitForStatus(base, rq.body.prompt_id, ['cancelled']);
  });

  test('requests about unknown or busy jobs get clear 4xx answers', async () => {
    const unknown = newId();
    const cases: [string, string, unknown, number, string][] = [
      ['GET', `/api/pqueue/jobs/${unknown}`, undefined, 404, 'JOB_NOT_FOUND'],
      ['GET', '/api/pqueue/jobs/nope', undefined, 400, 'INVALID_ID'],
      ['PATCH', '/api/pqueue/rename', { prompt_id: unknown, name: 'x' }, 404, 'JOB_NOT_FOUND'],
      ['PATCH', '/api/pqueue/priority', { prompt_id: unknown, priority: 1 }, 404, 'JOB_NOT_FOUND'],
      ['PATCH', '/api/pqueue/priority', { prompt_id: unknown, priority: 'high' }, 400, 'INVALID_BODY'],
      ['POST', '/api/pqueue/reorder', { prompt_ids: [] }, 400, 'INVALID_BODY'],
      ['POST', '/api/pqueue/reorder', { prompt_ids: [unknown] }, 404, 'JOB_NOT_FOUND'],
      ['POST', `/api/pqueue/jobs/${unknown}/requeue`, {}, 404, 'JOB_NOT_FOUND'],
      ['GET', '/api/pqueue/nothing-here', undefined, 404, 'NOT_FOUND'],
    ];
    for (const [method, path, body, status, code] of cases) {
      const r = await http(method, base + path, body);
      assert.equal(r.status, status, `${method} ${path}: ${r.text}`);
      assert.equal(r.body.error.code, code, `${method} ${path}`);
    }
  });
});
