import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { classifyFailure } from '../../src/farm/failure-class.js';
import {
  DEFAULT_HEALTH_RULES,
  HEALTHY,
  type HealthEvent,
  isQuarantined,
  nextHealth,
} from '../../src/farm/worker-health.js';

describe('failure classes', () => {
  it('classifies by what ComfyUI said', () => {
    const exec = (exception_type: string, message: string) =>
      classifyFailure({ type: 'execution_error', exception_type, message });
    assert.equal(exec('torch.OutOfMemoryError', 'Allocation on device'), 'worker');
    assert.equal(exec('RuntimeError', 'CUDA error: an illegal memory access was encountered'), 'worker');
    assert.equal(exec('RuntimeError', 'mat1 and mat2 shapes cannot be multiplied'), 'workflow');
    assert.equal(exec('ValueError', 'bad value'), 'workflow');
    assert.equal(
      classifyFailure({ type: 'prompt_rejected', message: 'Prompt outputs failed validation' }),
      'workflow',
    );
    assert.equal(classifyFailure({ type: 'worker_lost', message: 'ComfyUI restarted' }), 'worker');
    assert.equal(classifyFailure({ type: 'lease_expired', message: '' }), 'infrastructure');
    assert.equal(classifyFailure({ type: 'worker_removed', message: '' }), 'infrastructure');
  });
});

describe('worker health', () => {
  const fail = (
    failure: 'worker' | 'workflow' | 'infrastructure',
    workflowKey = 'w',
    at = 0,
  ): HealthEvent => ({
    type: 'failed',
    failure,
    workflowKey,
    at,
  });

  it('quarantines after three worker failures in a row, for the set time', () => {
    let h = HEALTHY;
    h = nextHealth(h, fail('worker', 'a', 10));
    h = nextHealth(h, fail('worker', 'b', 20));
    assert.equal(isQuarantined(h, 21), false);
    h = nextHealth(h, fail('worker', 'c', 30));
    assert.equal(isQuarantined(h, 31), true);
    assert.equal(isQuarantined(h, 30 + DEFAULT_HEALTH_RULES.quarantineMs), false);
    assert.equal(isQuarantined(nextHealth(h, { type: 'released' }), 31), false);
  });

  it('a success clears the streak; infrastructure never counts', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('worker', 'workflow', 'infrastructure', 'ok'), { maxLength: 40 }),
        (seq) => {
          let h = HEALTHY;
          let streak = 0;
          let quarantined = false;
          for (const s of seq) {
            h = nextHealth(h, s === 'ok' ? { type: 'succeeded' } : fail(s as 'worker', 'w', 0));
            if (s === 'ok') streak = 0;
            if (s === 'worker') streak++;
            if (streak >= 3) quarantined = true;
            assert.equal(h.streak, streak);
          }
          assert.equal(isQuarantined(h, 1), quarantined);
        },
      ),
      { seed: 42, numRuns: 300 },
    );
  });

  it('blocks a workflow after it failed twice on the worker, and only that one', () => {
    let h = nextHealth(HEALTHY, fail('workflow', 'wf-a'));
    assert.deepEqual(h.blocked, []);
    h = nextHealth(h, fail('worker', 'wf-b'));
    h = nextHealth(h, fail('workflow', 'wf-a'));
    assert.deepEqual(h.blocked, ['wf-a']);
    h = nextHealth(h, { type: 'unblocked', workflowKey: 'wf-a' });
    assert.deepEqual(h.blocked, []);
  });
});
