import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  BatchSpecError,
  batchNameProblem,
  batchTotal,
  buildBatchSpec,
  derivedSeed,
  itemValues,
  materialise,
  parseInputRef,
} from '../../src/domain/batch-spec.js';
import { itemId, itemIds } from '../../src/domain/ids.js';
import type { PromptGraph } from '../../src/domain/job.js';
import { trackerStatus } from '../../src/domain/tracker-status.js';

const graph: PromptGraph = {
  '3': { class_type: 'KSampler', inputs: { seed: 1, cfg: 7, sampler_name: 'euler', model: ['4', 0] } },
  '4': { class_type: 'SamplerCustom', inputs: { noise_seed: 5, add_noise: true } },
  '6': { class_type: 'CLIPTextEncode', inputs: { text: 'x' } },
  '9': { class_type: 'SaveImage', inputs: { filename_prefix: 'ComfyUI' } },
  '10': { class_type: 'SaveImage', inputs: { filename_prefix: 'other' } },
};
const json = JSON.stringify(graph);

describe('batch spec', () => {
  it('parses input paths with or without "inputs"', () => {
    assert.deepEqual(parseInputRef('3.inputs.cfg'), { node: '3', input: 'cfg' });
    assert.deepEqual(parseInputRef('3.cfg'), { node: '3', input: 'cfg' });
    assert.equal(parseInputRef('cfg'), null);
  });

  it('orders items base-major, the first sweep key slowest, seeds and traits shared by a base item', () => {
    const spec = buildBatchSpec(
      {
        seed: { start: 10 },
        items: [{ who: 'ann' }, { who: 'bob' }],
        bindings: { who: '6.inputs.text' },
        sweep: { '3.inputs.cfg': [5, 9], '3.sampler_name': ['a', 'b', 'c'] },
      },
      graph,
      0,
    );
    assert.equal(batchTotal(spec), 12);
    const v = (k: number) => {
      const x = itemValues(spec, k);
      return [x.seed, x.traits?.who, x.sweep['3.inputs.cfg'], x.sweep['3.inputs.sampler_name']];
    };
    assert.deepEqual(v(1), [10, 'ann', 5, 'a']);
    assert.deepEqual(v(2), [10, 'ann', 5, 'b']);
    assert.deepEqual(v(4), [10, 'ann', 9, 'a']);
    assert.deepEqual(v(6), [10, 'ann', 9, 'c']);
    assert.deepEqual(v(7), [11, 'bob', 5, 'a']);
    assert.deepEqual(v(12), [11, 'bob', 9, 'c']);
  });

  it('materialises the seed into every sampler, the values into their inputs and every filename prefix', () => {
    const spec = buildBatchSpec(
      {
        count: 3,
        seed: { start: 100 },
        items: [{ who: 'a' }, { who: 'b' }, { who: 'c', '3.inputs.cfg': 2 }],
        bindings: { who: '6.text' },
      },
      graph,
      0,
    );
    const g = materialise(json, spec, 'cats', 3);
    assert.equal(g['3']!.inputs.seed, 102);
    assert.equal(g['4']!.inputs.noise_seed, 102);
    assert.equal(g['6']!.inputs.text, 'c');
    assert.equal(g['3']!.inputs.cfg, 2, 'an item key that is an input path sets that input');
    assert.equal(g['9']!.inputs.filename_prefix, 'cats/3');
    assert.equal(g['10']!.inputs.filename_prefix, 'cats/3');
    assert.deepEqual(g['3']!.inputs.model, ['4', 0], 'links are left alone');
    assert.equal(graph['3']!.inputs.seed, 1, 'the template is not changed');
  });

  it('derives random seeds from the batch base: stable, spread, within 48 bits', () => {
    const spec = buildBatchSpec({ count: 1000, seed: 'random' }, graph, 987654321);
    const seeds = Array.from({ length: 1000 }, (_, i) => itemValues(spec, i + 1).seed!);
    assert.equal(new Set(seeds).size, 1000);
    assert.ok(seeds.every((s) => Number.isInteger(s) && s >= 0 && s < 2 ** 48));
    assert.equal(derivedSeed(987654321, 5), seeds[5]);
  });

  it('refuses what does not fit the workflow, saying why', () => {
    const bad: [unknown, RegExp][] = [
      [{ count: 0 }, /count/],
      [{ count: 3, items: [{}] }, /only 1 items/],
      [{ seed: { start: -1 } }, /seed.start/],
      [{ seed: 'sometimes' }, /seed must be/],
      [{ sweep: { '99.inputs.cfg': [1] } }, /no node 99/],
      [{ sweep: { '3.inputs.cfg': [] } }, /non-empty/],
      [{ bindings: { who: '6.inputs.text' } }, /needs items/],
      [{ count: 1_000_001 }, /at most/],
    ];
    for (const [req, why] of bad)
      assert.throws(
        () => buildBatchSpec(req as never, graph, 0),
        (e: unknown) => e instanceof BatchSpecError && why.test(e.message),
      );
  });

  it('takes a batch name only as one plain folder name', () => {
    assert.equal(batchNameProblem('renders 2026'), null);
    for (const bad of ['', 'a/b', '..', '.hidden', 'a:b', ' x', 'tab\there', 'x'.repeat(121)])
      assert.ok(batchNameProblem(bad), bad);
  });
});

describe('item ids', () => {
  it('are canonical UUIDs that sort in item order', () => {
    const ids = itemIds(1_764_000_000_000, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]));
    const all = [1, 2, 10, 255, 256, 100_000].map((k) => itemId(ids, k));
    for (const id of all)
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual([...all].sort(), all);
  });
});

describe('tracker status', () => {
  const f = (status: any, flagged = false, done = false) => ({ status, flagged, done });
  it('maps every queue status, the marks and collection', () => {
    assert.equal(trackerStatus(f('pending'), null), 'inactive');
    assert.equal(trackerStatus(f('in_progress'), null), 'working');
    assert.equal(trackerStatus(f('completed'), null), 'complete');
    assert.equal(trackerStatus(f('completed'), true), 'complete');
    assert.equal(trackerStatus(f('completed'), false), 'working');
    assert.equal(trackerStatus(f('completed', false, true), false), 'done');
    assert.equal(trackerStatus(f('failed'), null), 'error');
    assert.equal(trackerStatus(f('cancelled'), null), 'error');
    assert.equal(trackerStatus(f('completed', true, true), null), 'flagged');
    assert.equal(trackerStatus(f('failed', true), null), 'flagged');
    assert.equal(trackerStatus(f('pending', true), null), 'inactive');
  });
});
