import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PromptGraph } from '../../src/domain/job.js';
import { type JobNeeds, needsOf } from '../../src/farm/capabilities.js';
import { pickNext, route, type WorkerSnapshot, waitingReason } from '../../src/farm/routing.js';
import { t2iPrompt } from '../helpers/harness.js';

const NODES = new Set([
  'CheckpointLoaderSimple',
  'EmptyLatentImage',
  'CLIPTextEncode',
  'KSampler',
  'VAEDecode',
  'SaveImage',
]);

function worker(id: string, over: Partial<WorkerSnapshot> = {}): WorkerSnapshot {
  return {
    id,
    state: 'online',
    freeSlots: 1,
    tags: [],
    nodeTypes: NODES,
    models: new Set(['v1-5-pruned-emaonly.safetensors']),
    lastCheckpoint: null,
    idleSince: 1000,
    blockedWorkflows: new Set(),
    ...over,
  };
}

const needs = (over: Partial<JobNeeds> = {}): JobNeeds => ({
  ...needsOf(t2iPrompt() as unknown as PromptGraph),
  ...over,
});

describe('routing', () => {
  it('gives the job only to a worker that has every node type, model and tag', () => {
    const ws = [
      worker('no-model', { models: new Set(['other.safetensors']), idleSince: 1 }),
      worker('no-node', { nodeTypes: new Set(['KSampler']), idleSince: 2 }),
      worker('no-tag', { idleSince: 3 }),
      worker('able', { tags: ['sdxl'], idleSince: 900 }),
    ];
    assert.deepEqual(route(needs({ tags: ['sdxl'] }), ws), { worker: 'able' });
  });

  it('prefers the worker that last loaded the same checkpoint, then the one idle longest', () => {
    const ws = [
      worker('idle-long', { idleSince: 1 }),
      worker('same-model', { idleSince: 500, lastCheckpoint: 'v1-5-pruned-emaonly.safetensors' }),
    ];
    assert.deepEqual(route(needs(), ws), { worker: 'same-model' });
    assert.deepEqual(route(needs({ checkpoint: 'x' }), ws), { worker: 'idle-long' });
  });

  it('skips workers that are full, away, quarantined, draining or blocked for the workflow', () => {
    const n = needs();
    const ws = [
      worker('full', { freeSlots: 0 }),
      worker('offline', { state: 'offline' }),
      worker('quarantined', { state: 'quarantined' }),
      worker('draining', { state: 'draining' }),
      worker('blocked', { blockedWorkflows: new Set([n.workflowKey]) }),
    ];
    const r = route(n, ws);
    assert.equal(r.worker, null);
  });

  it('says why a job waits', () => {
    const n = needs({ models: ['flux1-dev.safetensors'] });
    assert.equal(
      waitingReason(n, [worker('a'), worker('b')]),
      'no online worker has the model flux1-dev.safetensors',
    );
    assert.equal(
      waitingReason(needs({ nodeTypes: ['MagicNode'] }), [worker('a')]),
      'no online worker has the node type MagicNode',
    );
    assert.equal(
      waitingReason(needs({ tags: ['gpu80'] }), [worker('a')]),
      'no online worker has the tag gpu80',
    );
    assert.equal(waitingReason(needs(), [worker('a', { freeSlots: 0 })]), 'waiting for a free slot on a');
    assert.equal(
      waitingReason(needs(), [worker('a', { state: 'offline' })]),
      'every worker able to run it is away (a is offline)',
    );
    assert.equal(waitingReason(needs(), []), 'no worker is registered');
  });

  it('treats a worker whose capabilities are not known yet as able', () => {
    assert.deepEqual(route(needs(), [worker('new', { nodeTypes: null, models: null })]), { worker: 'new' });
  });

  it('pickNext: own checkpoint first, leaves a job to the worker that has its checkpoint loaded, never starves', () => {
    const models = new Set(['a.safetensors', 'b.safetensors', 'c.safetensors']);
    const me = worker('me', { models, lastCheckpoint: 'a.safetensors' });
    const bWorker = worker('bw', { models, lastCheckpoint: 'b.safetensors' });
    const job = (id: string, ckpt: string) => ({ id, needs: needs({ models: [ckpt], checkpoint: ckpt }) });
    const queue = [job('1', 'b.safetensors'), job('2', 'c.safetensors'), job('3', 'a.safetensors')];
    assert.equal(pickNext(me, [bWorker], queue, 10)?.id, '2', "b is left to bw; c is nobody else's");
    assert.equal(pickNext(me, [bWorker], [queue[0]!, queue[2]!], 10)?.id, '3', 'its own checkpoint');
    assert.equal(pickNext(bWorker, [me], queue, 10)?.id, '1', 'the job left to bw is its next');
    assert.equal(pickNext(me, [bWorker], [queue[0]!], 10)?.id, '1', 'nothing else to run: it takes it');
    assert.equal(pickNext(me, [bWorker], queue, 1)?.id, '1', 'past the window: the first it can run');
    const away = { ...bWorker, state: 'offline' as const };
    assert.equal(pickNext(me, [away], queue, 10)?.id, '1', 'an offline worker keeps nothing back');
  });
});
