import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JOB_STATUSES } from '../../src/domain/job.js';
import { type JobEvent, transition } from '../../src/domain/transitions.js';

const EVENTS: JobEvent[] = ['dispatch', 'complete', 'fail', 'cancel', 'release'];
const ALLOWED: Record<string, string> = {
  'pending dispatch': 'in_progress',
  'pending cancel': 'cancelled',
  'pending fail': 'failed',
  'in_progress complete': 'completed',
  'in_progress fail': 'failed',
  'in_progress cancel': 'cancelled',
  'in_progress release': 'pending',
};

test('every status × event pair: the allowed ones move, the others are refused', () => {
  for (const from of JOB_STATUSES) {
    for (const event of EVENTS) {
      const r = transition(from, event);
      const want = ALLOWED[`${from} ${event}`];
      if (want) assert.deepEqual(r, { ok: true, status: want }, `${from} ${event}`);
      else assert.deepEqual(r, { ok: false, code: 'INVALID_TRANSITION', from, event }, `${from} ${event}`);
    }
  }
});
