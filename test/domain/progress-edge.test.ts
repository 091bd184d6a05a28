/**
 * Hand-built message sequences for what the recordings do not show.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ComfyMessage } from '../../src/comfy/messages.js';
import type { PromptGraph } from '../../src/domain/job.js';
import { createProgress, feed, type ProgressOptions, type ProgressState } from '../../src/domain/progress.js';
import type { ProgressInput, TrackedMessage, TrackedType } from '../../src/domain/progress-messages.js';
import { snapshot } from '../../src/domain/progress-snapshot.js';

type Assert<T extends true> = T;
type Extends<A, B> = [A] extends [B] ? true : false;
type NotNever<A> = [A] extends [never] ? false : true;
/** The edge parser's messages feed the tracker as they are… */
export type ComfyMessageFeedsTracker = Assert<Extends<ComfyMessage, ProgressInput>>;
/** …and each type the tracker reads is checked member by member, not only through the catch-all. */
export type EachTrackedTypeMatches = Assert<
  {
    [K in TrackedType]: Extends<Extract<ComfyMessage, { type: K }>, Extract<TrackedMessage, { type: K }>> &
      NotNever<Extract<ComfyMessage, { type: K }>>;
  }[TrackedType]
>;

const P = 'p-1';
const m = {
  start: (): ProgressInput => ({ type: 'execution_start', data: { prompt_id: P } }),
  cached: (...nodes: string[]): ProgressInput => ({
    type: 'execution_cached',
    data: { prompt_id: P, nodes },
  }),
  exec: (node: string | null, display = node): ProgressInput => ({
    type: 'executing',
    data: { node, display_node: display, prompt_id: P },
  }),
  prog: (node: string, value: number, max: number, prompt_id = P): ProgressInput => ({
    type: 'progress',
    data: { value, max, node, prompt_id },
  }),
  executed: (node: string, files: string[], key = 'images', merge?: boolean): ProgressInput => ({
    type: 'executed',
    data: {
      node,
      prompt_id: P,
      merge,
      output: { [key]: files.map((filename) => ({ filename, subfolder: '', type: 'output' })) },
    },
  }),
  success: (): ProgressInput => ({ type: 'execution_success', data: { prompt_id: P } }),
};

const GRAPH: PromptGraph = {
  '1': { class_type: 'CheckpointLoaderSimple', inputs: {} },
  '2': { class_type: 'PrimitiveInt', inputs: {} },
  '3': { class_type: 'Reroute', inputs: {} },
  '4': { class_type: 'KSampler', inputs: { model: ['1', 0], steps: ['2', 0] } },
  '5': { class_type: 'SaveImage', inputs: { images: ['4', 0] }, _meta: { title: 'Save the cat' } },
};

function run(
  messages: readonly [ProgressInput, number][],
  options: Partial<ProgressOptions> = {},
): ProgressState {
  let s = createProgress({ promptId: P, prompt: GRAPH, startedAt: 0, ...options });
  for (const [msg, now] of messages) s = feed(s, msg, now);
  return s;
}

describe('progress edge cases', () => {
  test('instant node types are left out of the total and do not move the bar', () => {
    const s = run([
      [m.start(), 0],
      [m.exec('1'), 0],
      [m.exec('2'), 1000],
      [m.exec('3'), 1000],
    ]);
    assert.deepEqual(snapshot(s, 1000).nodes, { done: 1, total: 3, cached: 0 });
    assert.equal(s.percent, 100 / 3);
    assert.equal(snapshot(s, 1000).currentNode?.classType, 'Reroute');
    const none = run([[m.exec('2'), 0]], { instantNodeTypes: [] });
    assert.equal(snapshot(none, 0).nodes.total, 5);
  });

  test('cached nodes reduce the total (partial cache)', () => {
    const s = run([
      [m.start(), 0],
      [m.cached('1', '2'), 0],
      [m.exec('4'), 0],
      [m.prog('4', 5, 10), 500],
    ]);
    assert.deepEqual(snapshot(s, 500).nodes, { done: 0, total: 2, cached: 2 });
    assert.equal(s.percent, 25);
  });

  test('partial targets count only the targets and their ancestors', () => {
    const s = run([[m.exec('4'), 0]], { targets: ['4'] });
    assert.equal(snapshot(s, 0).nodes.total, 2);
  });

  test('a node re-entering with the same id is not counted twice, and a new bar restarts the rate', () => {
    const s1 = run([
      [m.exec('4'), 0],
      [m.prog('4', 1, 4), 100],
      [m.prog('4', 2, 4), 200],
      [m.exec('5'), 300],
      [m.exec('4'), 400],
    ]);
    assert.equal(s1.percent, 200 / 3);
    const s2 = feed(feed(s1, m.prog('4', 1, 8), 500), m.exec('4'), 550);
    assert.equal(s2.percent, 200 / 3);
    const view = snapshot(s2, 550);
    assert.deepEqual(view.currentNode?.step, { value: 1, max: 8 });
    assert.equal(view.itPerSec, null);
  });

  test('progress for a node that never started and is not in the graph is ignored', () => {
    const s = run([[m.exec('4'), 0]]);
    assert.equal(feed(s, m.prog('99', 3, 10), 10), s);
    const known = feed(s, m.prog('5', 1, 2), 10);
    assert.equal(snapshot(known, 10).currentNode?.id, '5');
  });

  test('messages of another prompt_id, status and unknown types leave the state as it was', () => {
    const s = run([[m.exec('4'), 0]]);
    assert.equal(feed(s, m.prog('4', 3, 10, 'other'), 10), s);
    assert.equal(feed(s, { type: 'execution_success', data: { prompt_id: 'other' } }, 10), s);
    assert.equal(feed(s, { type: 'status', data: { status: { exec_info: { queue_remaining: 1 } } } }, 10), s);
    assert.equal(feed(s, { type: 'unknown', rawType: 'crystools.monitor', data: {} } as ComfyMessage, 10), s);
  });

  test('the revision moves only when something visible changed', () => {
    const a = run([[m.exec('4'), 0]]);
    const b = feed(
      a,
      { type: 'progress_state', data: { prompt_id: P, nodes: { '4': prog('4', 1, 10) } } },
      100,
    );
    const c = feed(b, m.prog('4', 1, 10), 101);
    assert.equal(b.revision, a.revision + 1);
    assert.equal(c, b);
    assert.equal(feed(c, m.exec('4'), 102), c);
  });

  test('titles come from _meta.title, then the UI workflow, then the class', () => {
    const workflow = {
      nodes: [
        { id: 4, type: 'KSampler', title: 'Main sampler' },
        { id: 5, title: 'ignored' },
      ],
    };
    const s = run([[m.exec('4'), 0]], { workflow });
    assert.equal(snapshot(s, 0).currentNode?.title, 'Main sampler');
    assert.equal(snapshot(feed(s, m.exec('5'), 1), 1).currentNode?.title, 'Save the cat');
    assert.equal(snapshot(feed(s, m.exec('1'), 1), 1).currentNode?.title, 'CheckpointLoaderSimple');
  });

  test('a node created by expansion fills its display node and shows it', () => {
    const s = run([
      [m.exec('4.0.0.3', '4'), 0],
      [m.prog('4.0.0.3', 5, 10), 100],
    ]);
    assert.equal(s.percent, 50 / 3);
    assert.equal(snapshot(s, 100).currentNode?.title, 'KSampler');
  });

  test('an execution blocker is reported as an error but the prompt goes on', () => {
    const blocked: ProgressInput = {
      type: 'execution_error',
      data: { prompt_id: P, node_id: '4', exception_type: 'ExecutionBlocked', exception_message: 'blocked' },
    };
    const s = run([[m.exec('4'), 0]]);
    assert.equal(feed(s, blocked, 1), s);
  });

  test('executing null without a terminal event completes the run (old ComfyUI)', () => {
    const s = run([
      [m.exec('1'), 0],
      [m.exec(null), 10],
    ]);
    assert.equal(snapshot(s, 10).status, 'completed');
    assert.equal(s.percent, 100);
  });

  test('nothing changes a finished run', () => {
    const s = run([
      [m.exec('1'), 0],
      [m.success(), 10],
    ]);
    assert.equal(feed(s, m.exec('4'), 20), s);
    assert.equal(snapshot(s, 99).elapsedMs, 10);
  });

  test('throttled progress spanning several steps keeps a per-step rate over the last 10 samples', () => {
    const msgs: [ProgressInput, number][] = [[m.exec('4'), 0]];
    let t = 0;
    for (let i = 1; i <= 30; i++) {
      t += i <= 15 ? 300 : 600;
      msgs.push([m.prog('4', i * 3, 90), t]);
    }
    const fast = snapshot(run(msgs.slice(0, 16)), 4500);
    assert.equal(fast.itPerSec, 10);
    assert.equal(fast.nodeEtaMs, 45 * 100);
    // The last 10 samples are all at 600 ms per 3 steps, the earlier fast ones have left the window.
    assert.equal(snapshot(run(msgs), t).itPerSec, 5);
  });

  test('the ETA counts down between steps and adds the stepless nodes still to come', () => {
    const s = run([
      [m.exec('1'), 0],
      [m.exec('4'), 1000],
      [m.prog('4', 1, 10), 1500],
      [m.prog('4', 2, 10), 1600],
    ]);
    const at = snapshot(s, 1600);
    assert.equal(at.nodeEtaMs, 800);
    assert.equal(at.etaMs, 800 + 1000);
    assert.equal(snapshot(s, 1900).nodeEtaMs, 500);
    assert.equal(snapshot(s, 9999).nodeEtaMs, 0);
  });

  test('the output strip keeps execution order, replaces a re-run node and merges when asked', () => {
    const s = run([
      [m.executed('5', ['a.png']), 0],
      [m.executed('4', ['v.mp4'], 'gifs'), 1],
      [m.executed('5', ['b.png']), 2],
      [m.executed('4', ['w.mp4'], 'gifs', true), 3],
      [m.executed('1', [], 'text'), 4],
    ]);
    const strip = snapshot(s, 4).outputs.map((o) => [o.nodeId, o.title, o.images.map((i) => i.filename)]);
    assert.deepEqual(strip, [
      ['5', 'Save the cat', ['b.png']],
      ['4', 'KSampler', ['v.mp4', 'w.mp4']],
    ]);
  });
});

function prog(node: string, value: number, max: number) {
  return { value, max, state: 'running', node_id: node, display_node_id: node, parent_node_id: null };
}
