import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { JobFull, Telemetry } from '../../web/src/api/types.js';
import { gpuGauges } from '../../web/src/lib/gauges.js';
import { outputFiles, summarize } from '../../web/src/lib/job-summary.js';
import {
  allMatching,
  isSelected,
  NONE,
  selectedCount,
  toggle,
  toQuery,
} from '../../web/src/lib/selection.js';
import { isStale, STALE_AFTER_MS, waitingLine } from '../../web/src/lib/stale.js';

describe('the monitor’s pure helpers', () => {
  test('progress is stale after 30 s without a message, not before', () => {
    assert.equal(isStale(1_000, 1_000 + STALE_AFTER_MS - 1), false);
    assert.equal(isStale(1_000, 1_000 + STALE_AFTER_MS), true);
    assert.equal(isStale(null, 10 ** 9), false);
  });

  test('a handed job reads "next on w1", or waits for its worker to come back', () => {
    assert.equal(waitingLine('w1', 'online', null), 'next on w1');
    assert.equal(waitingLine('w1', 'offline', '14:02'), 'waiting for w1 to come back since 14:02');
    assert.equal(waitingLine('w1', 'connecting', null), 'waiting for w1 to come back');
  });

  test('a selection of ids, or all matching less some, and what the server is sent', () => {
    let sel = toggle(toggle(NONE, 'a', true), 'b', true);
    assert.equal(selectedCount(sel), 2);
    assert.deepEqual(toQuery(toggle(sel, 'a', false)), { ids: ['b'] });
    sel = toggle(allMatching('lucky', 10_000), 'x', false);
    assert.equal(selectedCount(sel), 9_999);
    assert.equal(isSelected(sel, 'x'), false);
    assert.equal(isSelected(sel, 'y'), true);
    assert.deepEqual(toQuery(sel), { q: 'lucky', except: ['x'] });
  });

  test('every worker’s GPU is a gauge of its VRAM; the host’s GPU shows its utilization', () => {
    const t = {
      at: 0,
      host: { cpu: { percent: 1, cores: 2 }, ram: { total: 1, used: 1, percent: 1 }, disk: null, gpus: [] },
      workers: [
        {
          id: 'w1',
          url: 'http://a',
          state: 'online',
          fresh: true,
          error: null,
          ram_total: null,
          ram_free: null,
          comfyui_version: null,
          devices: [{ name: 'cuda:0 RTX', type: 'cuda', index: 0, vram_total: 100, vram_free: 25 }],
        },
        {
          id: 'w2',
          url: 'http://b',
          state: 'offline',
          fresh: false,
          error: null,
          ram_total: null,
          ram_free: null,
          comfyui_version: null,
          devices: [{ name: 'cpu', type: 'cpu', index: null, vram_total: 0, vram_free: 0 }],
        },
      ],
    } satisfies Telemetry;
    const g = gpuGauges(t);
    assert.equal(g.length, 1);
    assert.equal(g[0]!.label, 'w1');
    assert.equal(g[0]!.vramPercent, 75);
    assert.equal(g[0]!.utilization, null);
  });

  test('the summary of a graph and every output file', () => {
    const prompt = {
      '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'sd.safetensors' } },
      '6': { class_type: 'CLIPTextEncode', inputs: { text: 'a cat', clip: ['4', 1] } },
      '7': { class_type: 'CLIPTextEncode', inputs: { text: 'blurry', clip: ['4', 1] } },
      '10': { class_type: 'LoraLoader', inputs: { lora_name: 'ink.safetensors' } },
      '3': {
        class_type: 'KSampler',
        inputs: {
          seed: 5,
          steps: 20,
          cfg: 6.5,
          sampler_name: 'euler',
          scheduler: 'karras',
          positive: ['6', 0],
          negative: ['7', 0],
        },
      },
    } as JobFull['prompt'];
    assert.deepEqual(summarize(prompt), {
      seed: '5',
      steps: '20',
      cfg: '6.5',
      sampler: 'euler',
      scheduler: 'karras',
      size: null,
      positive: 'a cat',
      negative: 'blurry',
      models: ['sd.safetensors', 'ink.safetensors'],
    });
    const files = outputFiles({
      '9': { images: [{ filename: 'a.png', subfolder: 's', type: 'output' }] },
      '12': { gifs: [{ filename: 'b.mp4', subfolder: '', type: 'output' }], text: ['not a file'] },
    });
    assert.deepEqual(
      files.map((f) => `${f.nodeId}:${f.kind}:${f.filename}`),
      ['9:images:a.png', '12:gifs:b.mp4'],
    );
  });
});
