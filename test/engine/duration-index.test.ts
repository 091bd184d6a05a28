import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Job, PromptGraph } from '../../src/domain/job.js';
import { DurationIndex, WORKFLOWS_KEPT } from '../../src/engine/duration-index.js';
import type { Engine, FrameListener } from '../../src/engine/engine.js';
import { MemoryEventBus } from '../../src/engine/events.js';
import type { ProgressBook } from '../../src/engine/progress-book.js';

/** A graph whose `width` makes it a workflow of its own (a sweep over sizes). */
const graph = (width: number): PromptGraph => ({
  '5': { class_type: 'EmptyLatentImage', inputs: { width, height: 512, batch_size: 1 } },
});
const job = (id: string, width: number, worker = 'w1') =>
  ({ id, prompt: graph(width), status: 'completed', worker }) as unknown as Job;

test('remembers durations per workflow, the most recently run WORKFLOWS_KEPT of them', () => {
  let clock = 0;
  let frames: FrameListener = () => {};
  const bus = new MemoryEventBus();
  const engine = {
    bus,
    onFrame: (l: FrameListener) => {
      frames = l;
      return () => {};
    },
  } as unknown as Engine;
  const index = new DurationIndex(engine, { get: () => undefined } as unknown as ProgressBook, () => clock);
  const run = (j: Job, ms: number) => {
    frames(j.worker!, j.id, { kind: 'text', message: { type: 'execution_start', data: {} } } as never);
    clock += ms;
    bus.publish({ type: 'job.finished', job: j });
  };
  run(job('first', 0), 7_000);
  for (let w = 1; w < WORKFLOWS_KEPT; w++) run(job(`j${w}`, w), 1_000);
  assert.equal(index.expectedMs(job('again', 0), 'w1'), 7_000);
  assert.equal(index.expectedMs(job('elsewhere', 0), 'w2'), 7_000, 'pooled over workers');
  // Running workflow 0 again made it recent: workflow 1 is now the oldest and goes first.
  run(job('first-again', 0), 7_000);
  run(job('new', WORKFLOWS_KEPT), 3_000);
  assert.equal(index.expectedMs(job('x', 1), 'w1'), null);
  assert.equal(index.expectedMs(job('y', 0), 'w1'), 7_000);
  assert.equal(index.expectedMs(job('z', WORKFLOWS_KEPT), 'w1'), 3_000);
});
