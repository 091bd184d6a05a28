import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type FinishedRun, farmStats, percentile } from '../../src/domain/farm-stats.js';

const H = 3_600_000;
const run = (
  worker: string,
  status: FinishedRun['status'],
  createdAt: number,
  startedAt: number,
  endedAt: number,
): FinishedRun => ({
  worker,
  status,
  createdAt,
  startedAt,
  endedAt,
});

describe('farm stats', () => {
  test('percentile by nearest rank', () => {
    assert.equal(percentile([], 0.95), null);
    assert.equal(percentile([5], 0.95), 5);
    assert.equal(
      percentile(
        Array.from({ length: 100 }, (_, i) => i + 1),
        0.95,
      ),
      95,
    );
  });

  test('per worker: done, failed, mean and p95 run time, busy share; waits and buckets', () => {
    const now = 10 * H;
    const runs = [
      run('w1', 'completed', now - 50 * 60_000, now - 40 * 60_000, now - 30 * 60_000),
      run('w1', 'completed', now - 20 * 60_000, now - 20 * 60_000, now - 10 * 60_000),
      run('w1', 'failed', now - 9 * 60_000, now - 8 * 60_000, now - 7 * 60_000),
      run('w2', 'completed', now - 3 * H, now - 2 * H, now - 90 * 60_000),
    ];
    const s = farmStats(runs, now, H, 6);
    assert.equal(s.completed, 2);
    assert.equal(s.failed, 1);
    assert.deepEqual(s.workers, [
      { worker: 'w1', completed: 2, failed: 1, meanMs: 10 * 60_000, p95Ms: 10 * 60_000, busyShare: 21 / 60 },
    ]);
    assert.equal(s.wait.meanMs, (10 + 0 + 1) * 20_000);
    assert.equal(s.buckets[3]!.completed, 1);
    assert.equal(s.buckets[3]!.meanWaitMs, 10 * 60_000);
    const day = farmStats(runs, now, 24 * H, 24);
    // Busy time counts only what falls inside the window.
    assert.equal(day.workers.find((w) => w.worker === 'w2')?.busyShare, 0.5 / 24);
  });
});
