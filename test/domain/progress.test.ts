/**
 * The progress tracker replaying real ComfyUI traffic (shared/comfyui-transcripts):
 * each recorded text frame goes through the edge parser, then into `feed` at its
 * recorded time, as the worker driver will do it.
 */

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type ComfyMessage, parseComfyMessage, promptIdOf } from '../../src/comfy/messages.js';
import type { PromptGraph } from '../../src/domain/job.js';
import { createProgress, feed, type ProgressState } from '../../src/domain/progress.js';
import { type ProgressSnapshot, snapshot } from '../../src/domain/progress-snapshot.js';
import { incomingText, loadTranscriptJson, loadWsTranscript } from '../fixtures/transcripts.js';

interface PostedPrompt {
  t: number;
  request_body: { prompt: PromptGraph };
  json: { prompt_id: string };
}

interface Step {
  message: ComfyMessage;
  now: number;
  before: ProgressState;
  after: ProgressState;
  snap: ProgressSnapshot;
}

/** The recorded frames of `transcripts` (fed in turn, as after a reconnect), as parsed messages with times. */
function recordedMessages(...transcripts: string[]): { message: ComfyMessage; now: number }[] {
  return transcripts.flatMap((name) => {
    const entries = loadWsTranscript(name);
    const times = entries.filter((e) => e.dir === 'in' && e.kind === 'text').map((e) => e.t * 1000);
    return incomingText(entries).map((m, i) => {
      const parsed = parseComfyMessage(JSON.stringify(m));
      assert.ok(parsed.ok, `${name}: ${m.type} does not parse`);
      return { message: parsed.message, now: times[i]! };
    });
  });
}

function replay(
  post: string,
  messages: readonly { message: ComfyMessage; now: number }[],
): { promptId: string; steps: Step[] } {
  const posted = loadTranscriptJson<PostedPrompt>(post);
  const promptId = posted.json.prompt_id;
  let state = createProgress({ promptId, prompt: posted.request_body.prompt, startedAt: posted.t * 1000 });
  const steps: Step[] = [];
  for (const { message, now } of messages) {
    const before = state;
    state = feed(state, message, now);
    steps.push({ message, now, before, after: state, snap: snapshot(state, now) });
  }
  return { promptId, steps };
}

/** One line per message of this prompt: "type status percent step". */
function rows(promptId: string, steps: readonly Step[]): string[] {
  return steps
    .filter((s) => promptIdOf(s.message) === promptId)
    .map(({ message, snap }) => {
      const step = snap.currentNode?.step;
      return `${message.type} ${snap.status} ${snap.percent.toFixed(1)} ${step ? `${step.value}/${step.max}` : '-'}`;
    });
}

/** The sampler block of a FakeSampler run: each step as progress_state then progress (or one of them). */
function samplerRows(steps: number, share: number, types = ['progress_state', 'progress'], upTo = steps) {
  const out: string[] = [];
  for (let i = 1; i <= upTo; i++) {
    const pct = ((100 * share * i) / steps).toFixed(1);
    for (const type of types) out.push(`${type} running ${pct} ${i}/${steps}`);
  }
  return out;
}

/** What must hold after every message, whatever the stream. */
function checkInvariants(steps: readonly Step[], promptId: string): void {
  let sawStep = false;
  for (const { message, before, after, snap } of steps) {
    const where = `after ${message.type} (rev ${snap.revision})`;
    assert.ok(snap.percent >= 0 && snap.percent <= 100, where);
    assert.ok(after.percent >= before.percent, `percent went back ${where}`);
    assert.ok(after.revision >= before.revision, where);
    if (after === before) assert.equal(after.revision, before.revision, where);
    const pid = promptIdOf(message);
    if (pid !== null && pid !== promptId)
      assert.equal(after, before, `another prompt's message changed state ${where}`);
    if (message.type === 'status' || message.type === 'unknown' || message.type === 'feature_flags') {
      assert.equal(after, before, where);
    }
    const step = snap.currentNode?.step ?? null;
    if (step) sawStep = true;
    if (snap.status === 'running') assert.ok(step && step.value <= step.max, where);
    if (snap.status === 'indeterminate') assert.equal(step, null, where);
    if (!sawStep) assert.notEqual(snap.status, 'running', `running before the first step ${where}`);
    if (snap.itPerSec !== null) assert.ok(snap.itPerSec > 0, where);
    if (snap.nodeEtaMs !== null) assert.ok(snap.nodeEtaMs >= 0 && snap.etaMs !== null, where);
    if (snap.etaMs !== null) assert.ok(snap.etaMs >= (snap.nodeEtaMs ?? 0), where);
    if (snap.status !== 'running' && snap.status !== 'indeterminate') assert.equal(snap.etaMs, null, where);
  }
}

/**
 * The recorded FakeSampler sleeps 100 ms a step: once two steps are seen,
 * it/s is about 10 and the node ETA about 100 ms per step left.
 */
function checkSamplerRate(steps: readonly Step[]): void {
  for (const { message, snap } of steps) {
    const step = snap.currentNode?.step;
    if (snap.status !== 'running' || !step) continue;
    const where = `after ${message.type} ${step.value}/${step.max}`;
    if (step.value === 1) {
      assert.equal(snap.itPerSec, null, `no rate from the first step alone, ${where}`);
      continue;
    }
    assert.ok(
      snap.itPerSec !== null && snap.itPerSec > 9 && snap.itPerSec < 11,
      `${snap.itPerSec} it/s ${where}`,
    );
    const expected = (step.max - step.value) * 100;
    assert.ok(
      Math.abs((snap.nodeEtaMs ?? -1) - expected) <= 0.1 * expected + 5,
      `eta ${snap.nodeEtaMs} ${where}`,
    );
  }
}

const START = ['execution_start starting 0.0 -', 'execution_cached starting 0.0 -'];
/** The save node after a sampler of `steps` steps: a sampler weighs its steps, the save node one. */
const save = (steps: number) => [
  `progress_state indeterminate ${((100 * steps) / (steps + 1)).toFixed(1)} -`,
  `executing indeterminate ${((100 * steps) / (steps + 1)).toFixed(1)} -`,
  'executed indeterminate 100.0 -',
  'progress_state indeterminate 100.0 -',
];
const END = ['execution_success completed 100.0 -', 'executing completed 100.0 -'];

describe('progress replaying recorded ComfyUI runs', () => {
  test('01 normal run: indeterminate, 10 steps to 91 % (a sampler weighs its steps), save, 100 % on success', () => {
    const { promptId, steps } = replay('01_post_prompt', recordedMessages('01_basic_fake_sampler'));
    assert.deepEqual(rows(promptId, steps), [
      ...START,
      'progress_state indeterminate 0.0 -',
      'executing indeterminate 0.0 -',
      ...samplerRows(10, 10 / 11),
      'progress_state running 90.9 10/10',
      ...save(10),
      ...END,
    ]);
    checkInvariants(steps, promptId);
    checkSamplerRate(steps);
    // Step 2 at 211.0 ms, step 1 at 109.4 ms: one 101.6 ms sample, 8 steps left.
    const second = steps.find(
      (s) => s.message.type === 'progress_state' && s.snap.currentNode?.step?.value === 2,
    );
    assert.ok(second);
    assert.ok(Math.abs((second.snap.itPerSec ?? 0) - 1000 / 101.6) < 0.01);
    assert.ok(Math.abs((second.snap.nodeEtaMs ?? 0) - 8 * 101.6) < 0.5);
    const last = steps.at(-1)!.snap;
    assert.equal(last.status, 'completed');
    assert.deepEqual(last.nodes, { done: 2, total: 2, cached: 0 });
    assert.ok(Math.abs(last.elapsedMs - (1022.1 - 3.3)) < 1e-6);
    assert.deepEqual(last.outputs, [
      {
        nodeId: '2',
        classType: 'SaveImage',
        title: 'SaveImage',
        images: [{ filename: 'fake_00001_.png', subfolder: '', type: 'output' }],
      },
    ]);
  });

  test('01 as a progress_state-only stream', () => {
    const only = recordedMessages('01_basic_fake_sampler').filter(
      ({ message }) => message.type !== 'progress' && message.type !== 'executing',
    );
    const { promptId, steps } = replay('01_post_prompt', only);
    assert.deepEqual(rows(promptId, steps), [
      ...START,
      'progress_state indeterminate 0.0 -',
      ...samplerRows(10, 10 / 11, ['progress_state']),
      'progress_state running 90.9 10/10',
      ...save(10).filter((r) => !r.startsWith('executing')),
      'execution_success completed 100.0 -',
    ]);
    checkInvariants(steps, promptId);
    checkSamplerRate(steps);
  });

  test('01 as a stream without progress_state (ComfyUI before v0.3.44)', () => {
    const old = recordedMessages('01_basic_fake_sampler').filter(
      ({ message }) => message.type !== 'progress_state',
    );
    const { promptId, steps } = replay('01_post_prompt', old);
    assert.deepEqual(rows(promptId, steps), [
      ...START,
      'executing indeterminate 0.0 -',
      ...samplerRows(10, 10 / 11, ['progress']),
      'executing indeterminate 90.9 -',
      'executed indeterminate 100.0 -',
      ...END,
    ]);
    checkInvariants(steps, promptId);
    checkSamplerRate(steps);
  });

  test('02 previews and progress text: binary frames do not disturb the count', () => {
    const { promptId, steps } = replay('02_post_prompt', recordedMessages('02_preview_metadata'));
    assert.deepEqual(rows(promptId, steps), [
      ...START,
      'progress_state indeterminate 0.0 -',
      'executing indeterminate 0.0 -',
      ...samplerRows(5, 5 / 6),
      'progress_state running 83.3 5/5',
      ...save(5),
      ...END,
    ]);
    checkInvariants(steps, promptId);
    checkSamplerRate(steps);
    assert.equal(steps.at(-1)!.snap.outputs[0]?.images[0]?.filename, 'fake_00002_.png');
  });

  test('03 uncached run of three stepless nodes: a third per node', () => {
    const { promptId, steps } = replay('03_post_prompt_0', recordedMessages('03_cache_builtin'));
    assert.deepEqual(rows(promptId, steps), [
      ...START,
      'progress_state indeterminate 0.0 -',
      'executing indeterminate 0.0 -',
      'progress_state indeterminate 33.3 -',
      'progress_state indeterminate 33.3 -',
      'executing indeterminate 33.3 -',
      'progress_state indeterminate 66.7 -',
      'progress_state indeterminate 66.7 -',
      'executing indeterminate 66.7 -',
      'executed indeterminate 100.0 -',
      'progress_state indeterminate 100.0 -',
      ...END,
    ]);
    checkInvariants(steps, promptId);
  });

  test('03 fully cached run: the total drops to 0, the cached output is still listed', () => {
    const { promptId, steps } = replay('03_post_prompt_1', recordedMessages('03_cache_builtin'));
    assert.deepEqual(rows(promptId, steps), [
      'execution_start starting 0.0 -',
      'execution_cached starting 0.0 -',
      'executed starting 0.0 -',
      'progress_state starting 0.0 -',
      ...END,
    ]);
    checkInvariants(steps, promptId);
    const last = steps.at(-1)!.snap;
    assert.deepEqual(last.nodes, { done: 0, total: 0, cached: 3 });
    assert.equal(last.outputs[0]?.images[0]?.filename, 'builtin_00001_.png');
  });

  test('05 interrupt: cancelled at step 5 of 30, percent frozen; the next prompt is ignored', () => {
    const { promptId, steps } = replay('05_post_prompt_0', recordedMessages('05_queue_delete_interrupt'));
    assert.deepEqual(rows(promptId, steps), [
      ...START,
      'progress_state indeterminate 0.0 -',
      'executing indeterminate 0.0 -',
      ...samplerRows(30, 30 / 31, undefined, 5),
      'execution_interrupted cancelled 16.1 5/30',
      'executing cancelled 16.1 5/30',
    ]);
    checkInvariants(steps, promptId);
    const last = steps.at(-1)!.snap;
    assert.equal(last.itPerSec, null);
    assert.ok(Math.abs(last.elapsedMs - (5997.4 - 5385.7)) < 1e-6);
  });

  test("05 the prompt that ran after the interrupt, among the first one's messages", () => {
    const { promptId, steps } = replay('05_post_prompt_1', recordedMessages('05_queue_delete_interrupt'));
    const r = rows(promptId, steps);
    assert.deepEqual(r.slice(0, 4), [
      ...START,
      'progress_state indeterminate 0.0 -',
      'executing indeterminate 0.0 -',
    ]);
    assert.deepEqual(r.slice(4, 64), samplerRows(30, 30 / 31));
    assert.deepEqual(r.slice(-2), END);
    checkInvariants(steps, promptId);
    checkSamplerRate(steps);
  });

  test('06 error at step 3: failed, with the node and message', () => {
    const { promptId, steps } = replay('06_post_prompt', recordedMessages('06_execution_error'));
    assert.deepEqual(rows(promptId, steps), [
      ...START,
      'progress_state indeterminate 0.0 -',
      'executing indeterminate 0.0 -',
      ...samplerRows(10, 10 / 11, undefined, 3),
      'execution_error failed 27.3 3/10',
      'executing failed 27.3 3/10',
    ]);
    checkInvariants(steps, promptId);
    assert.deepEqual(steps.at(-1)!.snap.error, {
      nodeId: '1',
      nodeType: 'FakeSampler',
      message: 'FakeSampler: deliberate failure at step 3',
      exceptionType: 'RuntimeError',
    });
  });

  test('08 reconnect mid-run: the replayed executing without prompt_id and a jump from step 3 to 7', () => {
    const { promptId, steps } = replay(
      '08_post_prompt',
      recordedMessages('08_reconnect_first', '08_reconnect_second'),
    );
    checkInvariants(steps, promptId);
    const jump = steps.find(
      (s) => s.message.type === 'progress_state' && s.snap.currentNode?.step?.value === 7,
    );
    assert.ok(jump);
    assert.equal(jump.snap.percent, 700 / 11);
    // The four steps missed while disconnected are one sample of 4 steps: the rate stays per step.
    assert.ok(jump.snap.itPerSec !== null && jump.snap.itPerSec > 5);
    assert.equal(steps.at(-1)!.snap.status, 'completed');
  });
});
