import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { busyFor, earliestFinishTakers, PAIRS_KEPT, RunTimes } from '../../src/farm/finish-times.js';

describe('earliest-finish dispatch', () => {
  const times = new RunTimes();
  for (const ms of [100, 110, 90]) times.record('fast', 'wf', ms);
  for (const ms of [400, 420]) times.record('slow', 'wf', ms);
  const est = (w: string, k: string) => times.estimate(w, k);

  it('estimates a run time as the median of the recent runs', () => {
    assert.equal(times.estimate('fast', 'wf'), 100);
    assert.equal(times.estimate('slow', 'wf'), 420);
    assert.equal(times.estimate('fast', 'other'), null);
  });

  it('gives the slow worker a job only when it would end it first', () => {
    const jobs = (n: number) => Array.from({ length: n }, () => ({ key: 'wf', able: ['fast', 'slow'] }));
    const idle = new Map([
      ['fast', 0],
      ['slow', 0],
    ]);
    assert.deepEqual([...earliestFinishTakers(jobs(3), idle, est)!], ['fast']);
    // The fifth job would end at 500 on fast, at 420 on slow.
    assert.deepEqual([...earliestFinishTakers(jobs(5), idle, est)!].sort(), ['fast', 'slow']);
    // A busy fast worker leaves the second job to the slow one.
    const busy = new Map([
      ['fast', 400],
      ['slow', 0],
    ]);
    assert.deepEqual([...earliestFinishTakers(jobs(2), busy, est)!].sort(), ['fast', 'slow']);
  });

  it('remembers the most recently run PAIRS_KEPT (worker, workflow) pairs', () => {
    const t = new RunTimes();
    t.record('w1', 'wf-0', 9);
    for (let i = 1; i < PAIRS_KEPT; i++) t.record('w1', `wf-${i}`, 1);
    t.record('w1', 'wf-0', 9); // run again: now the most recent
    t.record('w2', 'wf-new', 4);
    assert.equal(t.estimate('w1', 'wf-1'), null);
    assert.equal(t.estimate('w1', 'wf-0'), 9);
    assert.equal(t.estimate('w2', 'wf-new'), 4);
    assert.equal(t.estimate('w1', 'wf-2'), 1);
  });

  it('has no opinion when a run time is unknown', () => {
    const idle = new Map([
      ['fast', 0],
      ['new', 0],
    ]);
    assert.equal(earliestFinishTakers([{ key: 'wf', able: ['fast', 'new'] }], idle, est), null);
    assert.equal(earliestFinishTakers([{ key: 'wf', able: ['fast'] }], new Map([['fast', null]]), est), null);
  });

  it('counts what a worker holds, less what the running job has done', () => {
    const held = [
      { key: 'wf', startedAt: 1_000 },
      { key: 'wf', startedAt: undefined },
    ];
    assert.equal(busyFor('fast', held, est, 1_030), 70 + 100);
    assert.equal(busyFor('fast', [{ key: undefined, startedAt: undefined }], est, 0), null);
  });
});
