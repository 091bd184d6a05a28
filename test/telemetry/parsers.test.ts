import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseMeminfo } from '../../src/telemetry/meminfo.js';
import { parseNvidiaSmi } from '../../src/telemetry/nvidia-smi.js';
import { cpuPercent, parseCpuTimes } from '../../src/telemetry/proc-stat.js';
import { parseSystemStats } from '../../src/telemetry/system-stats.js';

const STAT_A = `cpu  10132153 290696 3084719 46828483 16683 0 25195 0 175628 0
cpu0 1393280 32966 572056 13343292 6130 0 17875 0 23933 0
intr 1462898 0 0
ctxt 4153920
btime 1700000000
`;
const STAT_B = `cpu  10132253 290696 3084819 46828783 16683 0 25195 0 175628 0
cpu0 1393380 32966 572156 13343592 6130 0 17875 0 23933 0
`;

test('/proc/stat: busy share of the aggregate line between two readings', () => {
  const a = parseCpuTimes(STAT_A)!;
  const b = parseCpuTimes(STAT_B)!;
  assert.equal(a.idle, 46828483 + 16683);
  assert.equal(b.total - a.total, 500);
  assert.equal(cpuPercent(a, b), 40);
  assert.equal(cpuPercent(a, a), null);
  assert.equal(parseCpuTimes('intr 1 2 3\n'), null);
});

test('/proc/meminfo: total and available bytes, older kernels without MemAvailable', () => {
  const text = `MemTotal:       16318480 kB
MemFree:         1231436 kB
MemAvailable:    9718332 kB
Buffers:          437264 kB
Cached:          7626748 kB
SwapTotal:       2097148 kB
`;
  assert.deepEqual(parseMeminfo(text), { totalBytes: 16318480 * 1024, availableBytes: 9718332 * 1024 });
  const old = text.replace(/^MemAvailable.*\n/m, '');
  assert.deepEqual(parseMeminfo(old), {
    totalBytes: 16318480 * 1024,
    availableBytes: (1231436 + 437264 + 7626748) * 1024,
  });
  assert.equal(parseMeminfo(''), null);
});

test('nvidia-smi csv: one reading per GPU, [N/A] as null, commas inside a name', () => {
  const text = `0, NVIDIA H200, 37, 1024, 143771
1, NVIDIA GeForce RTX 4090, [N/A], 23000, 24564
2, Weird, Name, 5, [Not Supported], [Not Supported]

`;
  const gpus = parseNvidiaSmi(text);
  assert.equal(gpus.length, 3);
  assert.deepEqual(gpus[0], {
    index: 0,
    name: 'NVIDIA H200',
    utilizationPercent: 37,
    memoryUsedBytes: 1024 * 1024 * 1024,
    memoryTotalBytes: 143771 * 1024 * 1024,
  });
  assert.equal(gpus[1]!.utilizationPercent, null);
  assert.equal(gpus[2]!.name, 'Weird, Name');
  assert.equal(gpus[2]!.memoryUsedBytes, null);
  assert.deepEqual(
    parseNvidiaSmi('NVIDIA-SMI has failed because it could not communicate with the driver.'),
    [],
  );
});

test('/system_stats: RAM and devices, missing fields as null', () => {
  const s = parseSystemStats({
    system: { ram_total: 100, ram_free: 40, comfyui_version: '0.3.60' },
    devices: [
      { name: 'cuda:0 NVIDIA', type: 'cuda', index: 0, vram_total: 24, vram_free: 20 },
      { name: 'cpu', type: 'cpu' },
    ],
  });
  assert.deepEqual(s, {
    ramTotalBytes: 100,
    ramFreeBytes: 40,
    comfyuiVersion: '0.3.60',
    devices: [
      { name: 'cuda:0 NVIDIA', type: 'cuda', index: 0, vramTotalBytes: 24, vramFreeBytes: 20 },
      { name: 'cpu', type: 'cpu', index: null, vramTotalBytes: null, vramFreeBytes: null },
    ],
  });
  assert.deepEqual(parseSystemStats(null), {
    ramTotalBytes: null,
    ramFreeBytes: null,
    comfyuiVersion: null,
    devices: [],
  });
});
