import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FarmWorker } from '../../web/src/api/types.js';
import { busyText, gpuName, modeActions, parseTags, workerMeters } from '../../web/src/lib/workers.js';

const GiB = 1024 ** 3;

function farmWorker(over: Partial<FarmWorker> = {}): FarmWorker {
  return {
    id: 'w1',
    kind: 'push',
    source: 'config',
    url: 'http://127.0.0.1:8188',
    state: 'online',
    connection: 'online',
    tags: [],
    capacity: 1,
    mode: 'active',
    jobs: [],
    waiting_jobs: [],
    quarantined_until: null,
    failure_streak: 0,
    blocked_workflows: [],
    capabilities: null,
    system_stats: null,
    stats: { window_ms: 3_600_000, completed: 0, failed: 0, mean_ms: null, busy_share: 0 },
    created_at: 0,
    updated_at: 0,
    ...over,
  };
}

test('tags typed into one field: commas or spaces, each once', () => {
  assert.deepEqual(parseTags(' sdxl, big  sdxl,,24gb '), ['sdxl', 'big', '24gb']);
  assert.deepEqual(parseTags('  '), []);
});

test("a GPU's name loses ComfyUI's device prefix and allocator suffix", () => {
  assert.equal(gpuName('cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync'), 'NVIDIA GeForce RTX 4090');
  assert.equal(gpuName('mps'), 'mps');
});

test('a VRAM meter per GPU (numbered when there are several) and RAM, from system_stats', () => {
  const w = farmWorker({
    system_stats: {
      system: { ram_total: 64 * GiB, ram_free: 48 * GiB, comfyui_version: '0.3.40' },
      devices: [
        { name: 'cuda:0 A : native', type: 'cuda', index: 0, vram_total: 24 * GiB, vram_free: 6 * GiB },
        { name: 'cuda:1 B : native', type: 'cuda', index: 1, vram_total: 24 * GiB, vram_free: null },
      ],
    },
  });
  const m = workerMeters(w, null);
  assert.deepEqual(
    m.gpus.map((g) => [g.label, g.vram.name, g.vram.percent, g.vram.text]),
    [
      ['A', 'VRAM 0', 75, '18.0 GB / 24.0 GB'],
      ['B', 'VRAM 1', null, 'not reported'],
    ],
  );
  assert.equal(m.ram?.percent, 25);
  assert.equal(m.version, '0.3.40');
});

test('without system_stats the telemetry reading is used; a CPU device shows no VRAM', () => {
  const m = workerMeters(farmWorker(), {
    id: 'w1',
    url: '',
    state: 'online',
    fresh: true,
    error: null,
    ram_total: 8 * GiB,
    ram_free: 2 * GiB,
    comfyui_version: null,
    devices: [{ name: 'cpu', type: 'cpu', index: null, vram_total: 0, vram_free: 0 }],
  });
  assert.deepEqual(m.gpus, []);
  assert.equal(m.ram?.percent, 75);
  assert.equal(workerMeters(farmWorker(), null).ram, null);
});

test('the mode buttons offered in each mode, and the busy share', () => {
  assert.deepEqual(modeActions({ mode: 'active' }), ['drain', 'pause']);
  assert.deepEqual(modeActions({ mode: 'draining' }), ['pause', 'resume']);
  assert.deepEqual(modeActions({ mode: 'paused' }), ['drain', 'resume']);
  assert.equal(busyText(0.354), '35%');
  assert.equal(busyText(1.2), '100%');
});
