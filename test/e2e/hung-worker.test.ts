/**
 * A worker that hangs (ComfyUI frozen with SIGSTOP: its sockets stay open, it
 * answers nothing) is noticed by the health checks and marked offline; the
 * job waiting in its queue moves on at once, the one running there after the
 * offline timeout, and another worker runs both. When the frozen worker comes
 * back (SIGCONT), its stale copies are deleted or interrupted: each job
 * completes exactly once.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { startSimulator } from '../../src/sim/index.js';
import {
  type ChildServer,
  http,
  simExecutions,
  spawnSim,
  startTestServer,
  t2iPrompt,
  until,
  waitForStatus,
} from '../helpers/harness.js';

describe('a hung worker', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  test('is marked offline; its jobs run elsewhere, once', async () => {
    const frozen: ChildServer = await spawnSim(0, ['--step-ms', '50']);
    cleanup.push(async () => {
      frozen.proc.kill('SIGCONT');
      await frozen.kill();
    });
    const healthy = await startSimulator({ stepMs: 1 });
    cleanup.push(() => healthy.close());
    const lines: string[] = [];
    const cq = await startTestServer({
      comfyUrls: [frozen.url, healthy.url],
      workerCapacity: 2,
      healthIntervalMs: 150,
      healthTimeoutMs: 300,
      healthMisses: 2,
      offlineTimeoutMs: 1_500,
      logLevel: 'info',
      logJson: true,
      logDestination: { write: (l: string) => void lines.push(l) },
    });
    cleanup.push(() => cq.close());
    const [w1, w2] = cq.workers;
    await until(
      async () => (w1!.state === 'online' && w2!.state === 'online' ? true : undefined),
      'both online',
    );

    // Both jobs go to w1 (w2 holds still meanwhile): the long one runs, the short one waits behind it.
    assert.equal((await http('PATCH', `${cq.url}/api/farm/workers/w2`, { mode: 'paused' })).status, 200);
    await cq.engine.pause();
    const long = (await http('POST', `${cq.url}/api/pqueue/jobs`, { prompt: t2iPrompt(400, 1) })).body
      .prompt_id;
    const short = (await http('POST', `${cq.url}/api/pqueue/jobs`, { prompt: t2iPrompt(2, 2) })).body
      .prompt_id;
    await cq.engine.resume();
    await until(
      async () => ((await simExecutions(frozen.url)).some((e) => e.prompt_id === long) ? true : undefined),
      'the long job to start on w1',
    );
    assert.deepEqual(w1!.heldJobIds().sort(), [long, short].sort());

    frozen.proc.kill('SIGSTOP');
    await until(async () => (w1!.state === 'offline' ? true : undefined), 'w1 marked offline');
    assert.equal((await http('PATCH', `${cq.url}/api/farm/workers/w2`, { mode: 'active' })).status, 200);
    assert.ok(
      lines.some((l) => l.includes('unresponsive')),
      'the log says why',
    );

    const shortDone = await waitForStatus(cq.url, short, ['completed', 'failed']);
    assert.equal(shortDone.status, 'completed');
    assert.equal(shortDone.worker, 'w2');
    const longDone = await waitForStatus(cq.url, long, ['completed', 'failed']);
    assert.equal(longDone.status, 'completed');
    assert.equal(longDone.worker, 'w2');
    assert.equal(longDone.attempts, 2);

    frozen.proc.kill('SIGCONT');
    await until(
      async () => (w1!.state === 'online' && w1!.staleJobIds().length === 0 ? true : undefined),
      'w1 back, its stale copies removed',
    );
    const q = (await http('GET', `${frozen.url}/queue`)).body;
    assert.equal(q.queue_pending.length, 0);
    // The stale copy of the long job was interrupted; the short one never ran there.
    const runs = await until(async () => {
      const ex = await simExecutions(frozen.url);
      return ex.every((e) => e.end !== null) ? ex : undefined;
    }, 'w1 idle');
    assert.deepEqual(
      runs.map((e) => [e.prompt_id, e.outcome]),
      [[long, 'interrupted']],
    );
    const onHealthy = (await simExecutions(healthy.url)).map((e) => [e.prompt_id, e.outcome]);
    assert.deepEqual(
      onHealthy.sort(),
      [
        [long, 'success'],
        [short, 'success'],
      ].sort(),
    );
    // Both still completed, once, in comfy-queue.
    assert.equal((await waitForStatus(cq.url, long, ['completed'])).worker, 'w2');
  });
});
