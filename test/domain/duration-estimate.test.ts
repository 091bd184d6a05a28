import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  estimateDuration,
  estimateStartTimes,
  formatStartsIn,
  workflowKey,
} from '../../src/domain/duration-estimate.js';
import type { PromptGraph } from '../../src/domain/job.js';

function graph(seed: number, text: string, steps = 20, model = 'sd15.safetensors'): PromptGraph {
  return {
    '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: model } },
    '6': { class_type: 'CLIPTextEncode', inputs: { text, clip: ['4', 1] } },
    '3': {
      class_type: 'KSampler',
      inputs: { seed, steps, cfg: 7, sampler_name: 'euler', model: ['4', 0], positive: ['6', 0] },
    },
    '9': { class_type: 'SaveImage', inputs: { images: ['3', 0], filename_prefix: `run-${seed}` } },
  };
}

describe('workflowKey', () => {
  test('ignores seeds, prompt text and filename prefixes', () => {
    assert.equal(workflowKey(graph(1, 'a cat on a mat')), workflowKey(graph(2, 'a dog in fog')));
  });

  test('changes with steps, model or wiring', () => {
    const base = workflowKey(graph(1, 'x y'));
    assert.notEqual(workflowKey(graph(1, 'x y', 30)), base);
    assert.notEqual(workflowKey(graph(1, 'x y', 20, 'sdxl.safetensors')), base);
    const rewired = graph(1, 'x y');
    rewired['9']!.inputs.images = ['4', 0];
    assert.notEqual(workflowKey(rewired), base);
  });

  test('does not depend on key order', () => {
    const g = graph(1, 'x');
    const reordered = Object.fromEntries(Object.entries(g).reverse()) as PromptGraph;
    assert.equal(workflowKey(reordered), workflowKey(g));
    assert.match(workflowKey(g), /^wf-[0-9a-f]{14}$/);
  });
});

describe('estimateDuration', () => {
  test('median of the most recent runs, oldest first', () => {
    assert.equal(estimateDuration([]), null);
    assert.equal(estimateDuration([90_000, 10, 20, 30, 40, 50]), 30);
    assert.equal(estimateDuration([10, 20, 30, 40]), 25);
    assert.equal(estimateDuration([100, 10, 20], 2), 15);
    assert.equal(estimateDuration([Number.NaN, -5, 7]), 7);
  });
});

describe('estimateStartTimes', () => {
  test('one worker: after the running job, each pending job after the one before', () => {
    const starts = estimateStartTimes(
      [
        { id: 'a', expectedMs: 60_000 },
        { id: 'b', expectedMs: 30_000 },
        { id: 'c', expectedMs: null },
        { id: 'd', expectedMs: 10 },
      ],
      [20_000],
      1_000,
    );
    assert.deepEqual(starts, [
      { id: 'a', startsInMs: 20_000, startsAt: 21_000 },
      { id: 'b', startsInMs: 80_000, startsAt: 81_000 },
      { id: 'c', startsInMs: 110_000, startsAt: 111_000 },
      { id: 'd', startsInMs: null, startsAt: null },
    ]);
  });

  test('a fallback duration covers jobs never run before', () => {
    const starts = estimateStartTimes(
      [
        { id: 'a', expectedMs: null },
        { id: 'b', expectedMs: null },
      ],
      [0],
      0,
      5_000,
    );
    assert.deepEqual(
      starts.map((s) => s.startsInMs),
      [0, 5_000],
    );
  });

  test('several workers: each job goes to the one free first', () => {
    const starts = estimateStartTimes(
      ['a', 'b', 'c', 'd'].map((id) => ({ id, expectedMs: 10_000 })),
      [4_000, 0, null],
      0,
    );
    assert.deepEqual(
      starts.map((s) => s.startsInMs),
      [0, 4_000, 10_000, 14_000],
    );
  });

  test('unknown remaining time of the running job makes every start unknown', () => {
    assert.deepEqual(estimateStartTimes([{ id: 'a', expectedMs: 1 }], [null], 0), [
      { id: 'a', startsInMs: null, startsAt: null },
    ]);
  });
});

describe('formatStartsIn', () => {
  test('rounds to minutes, under a minute as <1 min', () => {
    assert.equal(formatStartsIn(0), 'starts in <1 min');
    assert.equal(formatStartsIn(59_999), 'starts in <1 min');
    assert.equal(formatStartsIn(60_000), 'starts in ~1 min');
    assert.equal(formatStartsIn(170_000), 'starts in ~3 min');
    assert.equal(formatStartsIn(60 * 60_000), 'starts in ~1 h');
    assert.equal(formatStartsIn(80 * 60_000), 'starts in ~1 h 20 min');
    assert.equal(formatStartsIn(Number.POSITIVE_INFINITY), 'start time unknown');
  });
});
