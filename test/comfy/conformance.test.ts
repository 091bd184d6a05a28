/**
 * The ComfyUI conformance suite: the same requests against the simulator
 * directly and against comfy-queue in front of another simulator, comparing
 * the answers' shapes (and values where they must match).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RunningServer } from '../../src/server.js';
import { type RunningSimulator, startSimulator } from '../../src/sim/index.js';
import { http, newId, startTestServer, until } from '../helpers/harness.js';
import { type Frame, finished, isText, openSocket } from '../sim/helpers.js';

function fake(opts: { steps?: number; seed?: number; stepSeconds?: number; failAt?: number } = {}) {
  return {
    '1': {
      class_type: 'FakeSampler',
      inputs: {
        seed: opts.seed ?? 1,
        steps: opts.steps ?? 3,
        width: 64,
        height: 64,
        step_seconds: opts.stepSeconds ?? 0.01,
        preview: true,
        fail_at_step: opts.failAt ?? -1,
      },
    },
    '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'fake' } },
  };
}

/** The shape of a JSON value: types of leaves, keys of objects, the shape of the first array element. */
function shape(v: unknown): unknown {
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.length ? [shape(v[0])] : [];
  if (typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, x]) => [k, shape(x)]),
    );
  return typeof v;
}

/** Message types of one run, with repeated progress steps collapsed (their count is timing). */
function sequence(frames: Frame[], promptId: string): string[] {
  const out: string[] = [];
  for (const f of frames) {
    let tok: string;
    if (f.kind === 'binary') tok = `binary${f.eventType}`;
    else {
      const pid = f.data.prompt_id;
      if (pid !== undefined && pid !== promptId) continue;
      tok = f.type === 'executing' && f.data.node === null ? 'executing:null' : f.type;
      if (f.type === 'status' && 'sid' in f.data) continue;
    }
    if (
      out[out.length - 1] === tok &&
      ['progress', 'progress_state', 'binary1', 'binary4', 'status'].includes(tok)
    )
      continue;
    out.push(tok);
  }
  // progress_state/progress/preview repeat per step: keep the set of steps' shape only
  const steps = out.filter(
    (t, i) => !(t === 'progress_state' && out[i - 1] === 'binary1' && out[i + 1] === 'progress'),
  );
  // How many steps run before an interrupt lands is timing, not protocol: one step stands for all.
  const shape: string[] = [];
  for (const t of steps) {
    const n = shape.length;
    if (n >= 3 && shape[n - 1]!.startsWith('binary') && shape[n - 2] === 'progress' && t === 'progress') {
      shape.push(t);
      continue;
    }
    if (n >= 3 && shape[n - 1] === 'progress' && shape[n - 3] === 'progress' && t === shape[n - 2]) {
      shape.pop();
      continue;
    }
    shape.push(t);
  }
  return shape;
}

describe('ComfyUI conformance: simulator vs comfy-queue in front of it', () => {
  let direct: RunningSimulator;
  let behind: RunningSimulator;
  let cq: RunningServer;
  let targets: { name: string; url: string }[];

  before(async () => {
    direct = await startSimulator({ stepMs: 5 });
    behind = await startSimulator({ stepMs: 5 });
    // capacity 1: ComfyUI's queue_running holds the one prompt that executes
    cq = await startTestServer({ comfyUrls: [behind.url], workerCapacity: 1 });
    await until(async () => (cq.workers[0]?.state === 'online' ? true : undefined), 'worker online');
    targets = [
      { name: 'simulator', url: direct.url },
      { name: 'comfy-queue', url: cq.url },
    ];
  });
  after(async () => {
    await cq.close();
    await direct.close();
    await behind.close();
  });

  async function both(method: string, path: string, body?: unknown) {
    const [a, b] = await Promise.all(targets.map((t) => http(method, `${t.url}${path}`, body)));
    return { sim: a!, cq: b! };
  }

  test('POST /prompt success: same shape, client prompt_id honoured, both paths', async () => {
    for (const path of ['/prompt', '/api/prompt']) {
      const ids = [newId(), newId()];
      const [a, b] = await Promise.all(
        targets.map((t, i) => http('POST', `${t.url}${path}`, { prompt: fake(), prompt_id: ids[i] })),
      );
      assert.equal(a!.status, 200);
      assert.equal(b!.status, 200, b!.text);
      assert.deepEqual(shape(b!.body), shape(a!.body));
      assert.equal(b!.body.prompt_id, ids[1]);
      assert.deepEqual(b!.body.node_errors, {});
    }
  });

  test('a duplicate prompt_id is refused clearly', async () => {
    const id = newId();
    assert.equal((await http('POST', `${cq.url}/prompt`, { prompt: fake(), prompt_id: id })).status, 200);
    const again = await http('POST', `${cq.url}/prompt`, { prompt: fake(), prompt_id: id });
    assert.equal(again.status, 400);
    assert.equal(again.body.error.type, 'duplicate_prompt_id');
    assert.match(again.body.error.details, new RegExp(id));
  });

  const invalid: [string, unknown][] = [
    ['no_prompt', { client_id: 'x' }],
    ['invalid_prompt_id', { prompt: fake(), prompt_id: 'NOT-A-UUID' }],
    ['missing_node_type', { prompt: { '1': { class_type: 'NoSuchNode', inputs: {} } } }],
    ['missing_node_type (no class_type)', { prompt: { '1': { inputs: {} } } }],
    ['prompt_no_outputs', { prompt: { '1': fake()['1'] } }],
    [
      'prompt_outputs_failed_validation (required input missing)',
      { prompt: { ...fake(), '1': { class_type: 'FakeSampler', inputs: { seed: 1 } } } },
    ],
    [
      'prompt_outputs_failed_validation (bad link)',
      { prompt: { ...fake(), '2': { class_type: 'SaveImage', inputs: { images: ['9', 0] } } } },
    ],
    [
      'value out of range',
      { prompt: { ...fake(), '1': { ...fake()['1'], inputs: { ...fake()['1'].inputs, steps: -5 } } } },
    ],
  ];
  for (const [name, body] of invalid) {
    test(`POST /prompt refusal: ${name} — same status and body`, async () => {
      const r = await both('POST', '/prompt', body);
      assert.equal(r.sim.status, 400, r.sim.text);
      assert.equal(r.cq.status, r.sim.status);
      assert.deepEqual(r.cq.body, r.sim.body);
    });
  }

  test('GET /prompt, GET /queue, POST /queue delete, GET /history, POST /history', async () => {
    const g = await both('GET', '/prompt');
    assert.deepEqual(shape(g.cq.body), shape(g.sim.body));
    // one long job running, one pending, one deleted
    const runs = await Promise.all(
      targets.map(async (t) => {
        const long = await http('POST', `${t.url}/prompt`, {
          prompt: fake({ steps: 200, seed: 7, stepSeconds: 0.02 }),
        });
        const waiting = await http('POST', `${t.url}/prompt`, { prompt: fake({ seed: 8 }) });
        const gone = await http('POST', `${t.url}/prompt`, { prompt: fake({ seed: 9 }) });
        return { long: long.body.prompt_id, waiting: waiting.body.prompt_id, gone: gone.body.prompt_id };
      }),
    );
    await until(async () => {
      const q = await both('GET', '/queue');
      return q.sim.body.queue_running.length === 1 && q.cq.body.queue_running.length === 1 ? q : undefined;
    }, 'both running');
    const del = await Promise.all(
      targets.map((t, i) => http('POST', `${t.url}/queue`, { delete: [runs[i]!.gone] })),
    );
    for (const d of del) {
      assert.equal(d.status, 200);
      assert.equal(d.text, '');
    }
    const q = await both('GET', '/queue');
    assert.deepEqual(shape(q.cq.body), shape(q.sim.body));
    for (const [i, side] of [q.sim, q.cq].entries()) {
      assert.equal(side.body.queue_running[0][1], runs[i]!.long);
      assert.deepEqual(
        side.body.queue_pending.map((x: unknown[]) => x[1]),
        [runs[i]!.waiting],
      );
      assert.equal(side.body.queue_running[0].length, 5);
      assert.deepEqual(side.body.queue_running[0][4], ['2']);
    }
    // interrupt only the long job, by prompt_id
    const intr = await Promise.all(
      targets.map((t, i) => http('POST', `${t.url}/interrupt`, { prompt_id: runs[i]!.long })),
    );
    for (const r of intr) assert.equal(r.text, '');
    await Promise.all(
      targets.map((t, i) =>
        until(async () => {
          const h = await http('GET', `${t.url}/history/${runs[i]!.waiting}`);
          return Object.keys(h.body).length ? true : undefined;
        }, `${t.name}: the pending job ran`),
      ),
    );
    const hs = await Promise.all(targets.map((t, i) => http('GET', `${t.url}/history/${runs[i]!.long}`)));
    const entries = hs.map((h, i) => h.body[runs[i]!.long]);
    assert.deepEqual(shape(entries[1].prompt), shape(entries[0].prompt));
    assert.deepEqual(
      entries.map((e) => e.status.status_str),
      ['error', 'error'],
    );
    for (const e of entries)
      assert.ok(e.status.messages.some((m: [string]) => m[0] === 'execution_interrupted'));
    const ok = await Promise.all(
      targets.map((t, i) => http('GET', `${t.url}/api/history/${runs[i]!.waiting}`)),
    );
    const okEntries = ok.map((h, i) => h.body[runs[i]!.waiting]);
    assert.deepEqual(shape(okEntries[1]), shape(okEntries[0]));
    assert.deepEqual(okEntries[1].outputs['2'].images.length, okEntries[0].outputs['2'].images.length);

    const list = await both('GET', '/history?max_items=2');
    assert.equal(Object.keys(list.cq.body).length, 2);
    assert.deepEqual(Object.keys(list.cq.body).at(-1), runs[1]!.waiting);
    const deleted = await Promise.all(
      targets.map((t, i) => http('POST', `${t.url}/history`, { delete: [runs[i]!.long] })),
    );
    for (const d of deleted) assert.equal(d.text, '');
    const after = await Promise.all(targets.map((t, i) => http('GET', `${t.url}/history/${runs[i]!.long}`)));
    for (const a of after) assert.deepEqual(a.body, {});
    // the deleted pending job is gone from /api/jobs on both
    for (const [i, t] of targets.entries()) {
      const j = await http('GET', `${t.url}/api/jobs/${runs[i]!.gone}`);
      if (t.name === 'comfy-queue') assert.equal(j.status, 404);
    }
  });

  test('GET /api/jobs: same job and pagination shapes, same parameter errors; not at /jobs', async () => {
    const ids = await Promise.all(
      targets.map(
        async (t) =>
          (await http('POST', `${t.url}/prompt`, { prompt: fake({ seed: 31 }), client_id: 'c' })).body
            .prompt_id,
      ),
    );
    await Promise.all(
      targets.map((t, i) =>
        until(async () => {
          const r = await http('GET', `${t.url}/api/jobs?status=completed&limit=50`);
          return r.body.jobs.some((j: { id: string }) => j.id === ids[i]) ? true : undefined;
        }, `${t.name}: job completed`),
      ),
    );
    const r = await both('GET', '/api/jobs?status=completed&limit=1');
    assert.equal(r.cq.status, 200);
    assert.deepEqual(shape(r.cq.body.jobs[0]), shape(r.sim.body.jobs[0]));
    const { next_cursor: _n, ...pagination } = r.cq.body.pagination;
    assert.deepEqual(shape(pagination), shape(r.sim.body.pagination));
    assert.equal(typeof r.cq.body.pagination.limit, 'number');
    assert.equal(typeof r.cq.body.jobs[0].create_time, 'number');
    const one = await both('GET', `/api/jobs?status=completed&limit=50`);
    const mine = one.cq.body.jobs.find((j: { id: string }) => j.id === ids[1]);
    const theirs = one.sim.body.jobs.find((j: { id: string }) => j.id === ids[0]);
    assert.deepEqual(mine.preview_output.mediaType, theirs.preview_output.mediaType);
    assert.equal(mine.outputs_count, theirs.outputs_count);
    for (const bad of ['status=nope', 'sort_by=name', 'sort_order=up', 'limit=0', 'limit=x', 'offset=y']) {
      const e = await both('GET', `/api/jobs?${bad}`);
      assert.equal(e.cq.status, 400, bad);
      assert.deepEqual(e.cq.body, e.sim.body, bad);
    }
    assert.equal((await http('GET', `${cq.url}/api/jobs?after=%%%`)).body.error.code, 'INVALID_CURSOR');
    const single = await http('GET', `${cq.url}/api/jobs/${ids[1]}`);
    assert.deepEqual(Object.keys(single.body.workflow).sort(), ['extra_data', 'prompt']);
    assert.equal(single.body.execution_status.status_str, 'success');
    assert.equal((await http('GET', `${cq.url}/api/jobs/${newId()}`)).status, 404);
    assert.equal((await http('GET', `${direct.url}/jobs`)).status, 404);
  });

  async function wsRun(
    target: { name: string; url: string },
    prompt: unknown,
    opts: { interrupt?: boolean; flags?: boolean } = {},
  ): Promise<{ seq: string[]; frames: Frame[] }> {
    const clientId = `conf-${newId()}`;
    const sock = await openSocket(
      target.url,
      clientId,
      opts.flags ? { featureFlags: { supports_preview_metadata: true } } : {},
    );
    await sock.waitFor(isText('status', (d) => d.sid === clientId));
    if (opts.flags) await sock.waitFor(isText('feature_flags'));
    const r = await http('POST', `${target.url}/prompt`, { prompt, client_id: clientId });
    assert.equal(r.status, 200, r.text);
    const pid = r.body.prompt_id as string;
    if (opts.interrupt) {
      await sock.waitFor(isText('progress', (d) => d.prompt_id === pid));
      await http('POST', `${target.url}/interrupt`, { prompt_id: pid });
    }
    await sock.waitFor(finished(pid));
    await sock.close();
    return { seq: sequence(sock.frames, pid), frames: sock.frames };
  }

  const runs: [string, () => unknown, { interrupt?: boolean; flags?: boolean }][] = [
    ['a normal run (legacy previews)', () => fake({ seed: 101 }), {}],
    ['a normal run (type-4 previews)', () => fake({ seed: 102 }), { flags: true }],
    ['a cached run', () => fake({ seed: 101 }), {}],
    ['a failed run', () => fake({ seed: 103, steps: 5, failAt: 2 }), {}],
    ['an interrupted run', () => fake({ seed: 104, steps: 400, stepSeconds: 0.02 }), { interrupt: true }],
  ];
  for (const [name, prompt, opts] of runs) {
    test(`websocket sequence of ${name} is ComfyUI's`, async () => {
      const [a, b] = await Promise.all(targets.map((t) => wsRun(t, prompt(), opts)));
      assert.deepEqual(b!.seq, a!.seq, `simulator: ${a!.seq.join(' ')}\ncomfy-queue: ${b!.seq.join(' ')}`);
      const kinds = (fs: Frame[]) => [
        ...new Set(fs.filter((f) => f.kind === 'binary').map((f) => (f as { eventType: number }).eventType)),
      ];
      assert.deepEqual(kinds(b!.frames), kinds(a!.frames));
    });
  }
});
