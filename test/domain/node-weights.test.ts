import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PromptGraph } from '../../src/domain/job.js';
import { learnNodeMs, nodeWeights } from '../../src/domain/node-weights.js';
import { createProgress, feed } from '../../src/domain/progress.js';

const GRAPH: PromptGraph = {
  '1': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'x' } },
  '2': { class_type: 'KSampler', inputs: { steps: 40, model: ['1', 0] } },
  '3': { class_type: 'SaveImage', inputs: { images: ['2', 0] } },
};
const P = 'p';
const exec = (node: string | null) => ({ type: 'executing', data: { node, prompt_id: P } }) as const;
const prog = (value: number, max: number) =>
  ({ type: 'progress', data: { value, max, node: '2', prompt_id: P } }) as const;

describe('node weights', () => {
  test('without learned durations a sampler weighs its steps, so the percent follows them', () => {
    assert.deepEqual(nodeWeights(GRAPH, new Set(['1', '2', '3']), null), { '1': 1, '2': 40, '3': 1 });
    let s = createProgress({ promptId: P, prompt: GRAPH, startedAt: 0 });
    s = feed(feed(feed(s, exec('1'), 0), exec('2'), 10), prog(20, 40), 20);
    assert.equal(s.percent, (100 * 21) / 42);
  });

  test('with learned durations each node weighs its time, and a run teaches the next', () => {
    let s = createProgress({ promptId: P, prompt: GRAPH, startedAt: 0 });
    s = feed(feed(feed(s, exec('1'), 0), exec('2'), 3000), exec('3'), 4000);
    s = feed(s, exec(null), 5000);
    assert.deepEqual(s.nodeMs, { '1': 3000, '2': 1000, '3': 1000 });
    const learned = learnNodeMs(undefined, s.nodeMs);
    let next = createProgress({ promptId: P, prompt: GRAPH, startedAt: 0, learnedMs: learned });
    next = feed(feed(next, exec('1'), 0), exec('2'), 3000);
    assert.equal(next.percent, 60);
    assert.deepEqual(learnNodeMs(learned, { '2': 3000 }), { '1': 3000, '2': 2000, '3': 1000 });
  });
});
