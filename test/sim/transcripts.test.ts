import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startSimulator } from '../../src/sim/index.js';
import {
  collapseSteps,
  type Frame,
  finished,
  getJson,
  isText,
  openSocket,
  postJson,
  readTranscriptJson,
  readWs,
  recordedTokens,
  shape,
  TRANSCRIPTS,
  tokens,
} from './helpers.js';

type Sim = Awaited<ReturnType<typeof startSimulator>>;
type HttpRecord = { json: Record<string, unknown>; request_body: Record<string, unknown> };

const fakePrompt = (over: Record<string, unknown>, prefix = 'fake') => ({
  '1': {
    class_type: 'FakeSampler',
    inputs: {
      seed: 1,
      steps: 10,
      width: 64,
      height: 64,
      step_seconds: 0.001,
      preview: true,
      fail_at_step: -1,
      progress_text: false,
      ...over,
    },
  },
  '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: prefix } },
});

const textFrames = (frames: Frame[]) =>
  frames.filter((f): f is Extract<Frame, { kind: 'text' }> => f.kind === 'text');

/** The first entry of a `{prompt_id: entry}` history answer. */
const onlyEntry = (h: unknown) => Object.values(h as Record<string, unknown>)[0];

function assertSameTextShapes(ours: Frame[], recordedName: string): void {
  const rec = readWs(recordedName).filter((f) => f.dir === 'in' && f.kind === 'text');
  const mine = textFrames(ours);
  assert.equal(mine.length, rec.length);
  mine.forEach((f, i) => {
    assert.equal(f.type, rec[i]!.type);
    assert.deepEqual(shape(f.data), shape(rec[i]!.data), `shape of ${f.type} #${i}`);
  });
}

describe('simulator replays the recorded ComfyUI transcripts', () => {
  let sim: Sim;
  before(async () => {
    sim = await startSimulator({ stepMs: 0 });
  });
  after(() => sim.close());

  it('01 basic run: same frames, shapes, and HTTP answers', async () => {
    const clientId = `probe-basic-${randomUUID().slice(0, 8)}`;
    const sock = await openSocket(sim.url, clientId);
    const promptId = randomUUID();
    const sent = readTranscriptJson<HttpRecord>('01_post_prompt.json').request_body;
    const post = await postJson(`${sim.url}/prompt`, {
      ...sent,
      client_id: clientId,
      prompt_id: promptId,
      prompt: fakePrompt({ seed: 1234 }),
    });
    assert.equal(post.status, 200);
    assert.deepEqual(shape(post.json), shape(readTranscriptJson<HttpRecord>('01_post_prompt.json').json));
    assert.equal((post.json as { prompt_id: string }).prompt_id, promptId);
    await sock.waitFor(finished(promptId));
    assert.deepEqual(tokens(sock.frames), recordedTokens(readWs('01_basic_fake_sampler.ws.jsonl')));
    assertSameTextShapes(sock.frames, '01_basic_fake_sampler.ws.jsonl');

    const history = await getJson(`${sim.url}/history/${promptId}`);
    const recorded = readTranscriptJson<HttpRecord>('01_history_prompt.json').json;
    assert.deepEqual(shape(onlyEntry(history)), shape(onlyEntry(recorded)));
    const queue = await getJson(`${sim.url}/queue`);
    assert.deepEqual(queue, readTranscriptJson<HttpRecord>('01_queue.json').json);
    const info = await getJson(`${sim.url}/object_info/FakeSampler`);
    assert.deepEqual(info, readTranscriptJson<HttpRecord>('01_object_info_FakeSampler.json').json);

    const file = (onlyEntry(history) as { outputs: { '2': { images: { filename: string }[] } } }).outputs['2']
      .images[0]!.filename;
    const view = await fetch(`${sim.url}/view?filename=${file}&subfolder=&type=output`);
    assert.equal(view.headers.get('content-type'), 'image/png');
    const bytes = Buffer.from(await view.arrayBuffer());
    assert.equal(bytes.subarray(0, 8).toString('hex'), '89504e470d0a1a0a');
    await sock.close();
  });

  it('02 preview metadata and progress text: handshake, type-4 previews, type-3 text', async () => {
    const sock = await openSocket(sim.url, 'probe-meta-x', {
      featureFlags: { supports_preview_metadata: true },
    });
    await sock.waitFor(isText('feature_flags'));
    const post = await postJson(`${sim.url}/prompt`, {
      prompt: fakePrompt({ seed: 99, steps: 5, progress_text: true }),
      client_id: 'probe-meta-x',
    });
    const promptId = (post.json as { prompt_id: string }).prompt_id;
    await sock.waitFor(finished(promptId));
    const recorded = readWs('02_preview_metadata.ws.jsonl');
    assert.deepEqual(tokens(sock.frames), recordedTokens(recorded));
    assertSameTextShapes(sock.frames, '02_preview_metadata.ws.jsonl');
    const flags = textFrames(sock.frames).find((f) => f.type === 'feature_flags')!;
    assert.deepEqual(flags.data, recorded.find((f) => f.type === 'feature_flags')!.data);
    const meta = sock.frames.find((f) => f.kind === 'binary' && f.eventType === 4) as Extract<
      Frame,
      { kind: 'binary' }
    >;
    const m = meta.buf.readUInt32BE(4);
    const ours = JSON.parse(meta.buf.subarray(8, 8 + m).toString()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(ours), Object.keys(recorded.find((f) => f.event_type === 4)!.metadata!));
    assert.equal(meta.buf.readUInt16BE(8 + m), 0xffd8, 'JPEG bytes follow the metadata');
    await sock.close();
  });

  it('03 caching: a resubmitted graph is served from cache, a changed one re-runs', async () => {
    const own = await startSimulator({ stepMs: 0 });
    const sock = await openSocket(own.url, 'probe-cache-x');
    const bodies = [0, 1, 2].map(
      (i) => readTranscriptJson<HttpRecord>(`03_post_prompt_${i}.json`).request_body,
    );
    const ids: string[] = [];
    for (const body of bodies) {
      const post = await postJson(`${own.url}/prompt`, { ...body, client_id: 'probe-cache-x' });
      ids.push((post.json as { prompt_id: string }).prompt_id);
      await sock.waitFor(finished(ids.at(-1)!));
    }
    assert.deepEqual(tokens(sock.frames), recordedTokens(readWs('03_cache_builtin.ws.jsonl')));
    assertSameTextShapes(sock.frames, '03_cache_builtin.ws.jsonl');
    const cached = textFrames(sock.frames).filter((f) => f.type === 'execution_cached');
    assert.deepEqual(
      cached.map((f) => f.data.nodes),
      [[], ['10', '11', '12'], []],
    );
    const history = await getJson(`${own.url}/history/${ids[1]}`);
    assert.deepEqual(
      shape(onlyEntry(history)),
      shape(onlyEntry(readTranscriptJson<HttpRecord>('03_history_cached.json').json)),
    );
    await sock.close();
    await own.close();
  });

  it('04 prompt_id rules and validation errors answer like ComfyUI', async () => {
    const cases = readFileSync(`${TRANSCRIPTS}http.jsonl`, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as HttpRecord & { path: string; status: number })
      .filter((r) => r.path === '/prompt' && r.request_body?.client_id === 'probe-ids');
    assert.ok(cases.length >= 10);
    for (const c of cases) {
      const res = await postJson(`${sim.url}/prompt`, c.request_body);
      assert.equal(res.status, c.status, JSON.stringify(c.request_body));
      if (c.status === 400) assert.deepEqual(res.json, c.json);
      else assert.deepEqual(shape(res.json), shape(c.json));
    }
  });

  it('05 delete, interrupt, and an observer without clientId', async () => {
    const own = await startSimulator({ stepMs: 0 });
    const observer = await openSocket(own.url);
    const sock = await openSocket(own.url, 'probe-intr-x');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const post = await postJson(`${own.url}/prompt`, {
        prompt: fakePrompt({ seed: 5000 + i, steps: 30, step_seconds: 0.01 }, `q${i}`),
        client_id: 'probe-intr-x',
      });
      ids.push((post.json as { prompt_id: string }).prompt_id);
    }
    await sock.waitFor(isText('progress', (d) => d.prompt_id === ids[0] && (d.value as number) >= 2));
    assert.equal((await postJson(`${own.url}/queue`, { delete: [ids[2]] })).text, '');
    const queue = await getJson(`${own.url}/queue`);
    assert.deepEqual(shape(queue), shape(readTranscriptJson<HttpRecord>('05_queue_after_delete.json').json));
    const intr = await postJson(`${own.url}/interrupt`, { prompt_id: ids[0] });
    assert.equal(intr.status, 200);
    assert.equal(intr.text, '');
    await sock.waitFor(finished(ids[1]!));
    await observer.waitFor(
      isText(
        'status',
        (d) => (d.status as { exec_info: { queue_remaining: number } }).exec_info.queue_remaining === 0,
      ),
      1,
    );

    const recorded = readWs('05_queue_delete_interrupt.ws.jsonl');
    const recIds = recorded
      .filter((f) => f.event === 'post_prompt')
      .map((f) => (f as unknown as { response: { prompt_id: string } }).response.prompt_id);
    const recText = recorded.filter((f) => f.dir === 'in' && f.kind === 'text');
    for (let i = 0; i < 3; i++) {
      const mine = collapseSteps(
        textFrames(sock.frames)
          .filter((f) => f.data.prompt_id === ids[i])
          .map((f) => f.type),
      );
      const theirs = collapseSteps(
        recText.filter((f) => f.data?.prompt_id === recIds[i]).map((f) => f.type!),
      );
      assert.deepEqual(mine, theirs, `prompt ${i}`);
    }
    const count = (fs: { type?: string }[]) => fs.filter((f) => f.type === 'status').length;
    assert.equal(count(textFrames(sock.frames)), count(recText));
    const recObserver = recordedTokens(readWs('05_observer_no_clientid.ws.jsonl'));
    assert.deepEqual(tokens(observer.frames), recObserver);
    assert.match((observer.frames[0] as unknown as { data: { sid: string } }).data.sid, /^[0-9a-f]{32}$/);

    const h0 = await getJson(`${own.url}/history/${ids[0]}`);
    assert.deepEqual(
      shape(onlyEntry(h0)),
      shape(onlyEntry(readTranscriptJson<HttpRecord>('05_history_0.json').json)),
    );
    const h1 = await getJson(`${own.url}/history/${ids[1]}`);
    assert.deepEqual(
      shape(onlyEntry(h1)),
      shape(onlyEntry(readTranscriptJson<HttpRecord>('05_history_1.json').json)),
    );
    assert.deepEqual(await getJson(`${own.url}/history/${ids[2]}`), {});
    await sock.close();
    await observer.close();
    await own.close();
  });

  it('06 execution error: frames, error payload, history', async () => {
    const sock = await openSocket(sim.url, 'probe-err-x');
    const post = await postJson(`${sim.url}/prompt`, {
      prompt: fakePrompt({ seed: 77, fail_at_step: 3 }),
      client_id: 'probe-err-x',
    });
    const promptId = (post.json as { prompt_id: string }).prompt_id;
    await sock.waitFor(finished(promptId));
    assert.deepEqual(tokens(sock.frames), recordedTokens(readWs('06_execution_error.ws.jsonl')));
    assertSameTextShapes(sock.frames, '06_execution_error.ws.jsonl');
    const err = textFrames(sock.frames).find((f) => f.type === 'execution_error')!;
    assert.equal(err.data.exception_message, 'FakeSampler: deliberate failure at step 3\n');
    assert.deepEqual(err.data.current_outputs, ['1', '2']);
    const history = await getJson(`${sim.url}/history/${promptId}`);
    assert.deepEqual(
      shape(onlyEntry(history)),
      shape(onlyEntry(readTranscriptJson<HttpRecord>('06_history_error.json').json)),
    );
    await sock.close();
  });

  it('08 reconnect mid-run: status with sid, then executing {node}, then the rest', async () => {
    const clientId = `probe-reconn-${randomUUID().slice(0, 8)}`;
    const first = await openSocket(sim.url, clientId);
    const post = await postJson(`${sim.url}/prompt`, {
      prompt: fakePrompt({ seed: 4242, step_seconds: 0.02 }),
      client_id: clientId,
    });
    const promptId = (post.json as { prompt_id: string }).prompt_id;
    await first.waitFor(isText('progress', (d) => d.value === 3));
    await first.close();
    await getJson(`${sim.url}/prompt`); // one round trip so the server has seen the close
    const second = await openSocket(sim.url, clientId);
    await second.waitFor(finished(promptId));
    const recFirst = collapseSteps(recordedTokens(readWs('08_reconnect_first.ws.jsonl')));
    assert.deepEqual(collapseSteps(tokens(first.frames)).slice(0, recFirst.length), recFirst);
    const recSecond = readWs('08_reconnect_second.ws.jsonl');
    assert.deepEqual(collapseSteps(tokens(second.frames)), collapseSteps(recordedTokens(recSecond)));
    const reconnect = textFrames(second.frames)[1]!;
    assert.equal(reconnect.type, 'executing');
    assert.deepEqual(reconnect.data, { node: '1' });
    assert.equal((second.frames[0] as unknown as { data: { sid: string } }).data.sid, clientId);
    await second.close();
  });
});
