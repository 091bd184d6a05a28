import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type RunningSimulator, startSimulator } from '../../src/sim/index.js';
import { http, simExecutions, startTestServer, t2iPrompt, until, waitForStatus } from '../helpers/harness.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

async function submit(base: string, steps: number, seed: number): Promise<string> {
  const r = await http('POST', `${base}/api/pqueue/jobs`, { prompt: t2iPrompt(steps, seed) });
  assert.equal(r.status, 201, r.text);
  return r.body.prompt_id as string;
}

async function worker(base: string, id: string): Promise<{ state: string; failure_streak: number }> {
  const r = await http('GET', `${base}/api/farm/workers/${id}`);
  assert.equal(r.status, 200, r.text);
  return r.body;
}

async function setMode(base: string, id: string, mode: string): Promise<void> {
  const r = await http('PATCH', `${base}/api/farm/workers/${id}`, { mode });
  assert.equal(r.status, 200, r.text);
}

async function farmReady(base: string, ids: string[]): Promise<void> {
  await until(
    async () => {
      const all = await Promise.all(
        ids.map(async (id) => (await http('GET', `${base}/api/farm/workers/${id}`)).body),
      );
      return all.every((w) => w.state !== 'offline' && w.capabilities) ? true : undefined;
    },
    `workers ${ids.join(', ')} ready`,
  );
}

describe('a hung job', () => {
  const sims: RunningSimulator[] = [];
  const servers: Server[] = [];
  const sim = async (opts: Parameters<typeof startSimulator>[0]) => {
    const s = await startSimulator({ stepMs: 5, ...opts });
    sims.push(s);
    return s;
  };
  after(async () => {
    for (const s of servers) await s.close();
    for (const s of sims) await s.close();
  });

  test('is interrupted on its worker after the stall timeout, counted against it, and runs on another', async () => {
    const hung = await sim({ stallAtStep: 3 });
    const good = await sim({});
    const cq = await startTestServer({
      comfyUrls: [hung.url, good.url],
      workerCapacity: 1,
      pollMs: 100,
      stallTimeoutMs: 400,
    });
    servers.push(cq);
    await farmReady(cq.url, ['w1', 'w2']);
    await setMode(cq.url, 'w2', 'paused');
    const id = await submit(cq.url, 10, 1);
    const running = await waitForStatus(cq.url, id, ['in_progress']);
    assert.equal(running.worker, 'w1');
    // From now on only w2 takes work: the retry must land there.
    await setMode(cq.url, 'w1', 'draining');
    await setMode(cq.url, 'w2', 'active');

    const done = await waitForStatus(cq.url, id, ['completed', 'failed']);
    assert.equal(done.status, 'completed', JSON.stringify(done.error));
    assert.equal(done.worker, 'w2');
    assert.equal(done.retries, 1, 'the stall spent one retry');
    assert.equal(done.attempts, 2);
    assert.equal((await worker(cq.url, 'w1')).failure_streak, 1, "the stall counts on w1's record");
    const onHung = await until(async () => {
      const runs = (await simExecutions(hung.url)).filter((e) => e.prompt_id === id);
      return runs.length === 1 && runs[0]!.end !== null ? runs[0] : undefined;
    }, 'the hung run to end');
    assert.equal(onHung.outcome, 'interrupted', 'the hung run was interrupted on its worker');
  });

  test('fencing: reports of an earlier claim change nothing, even from the same worker id', async () => {
    const hung = await sim({ stallAtStep: 2 });
    const cq = await startTestServer({
      comfyUrls: [hung.url],
      workerCapacity: 1,
      pollMs: 100,
      stallTimeoutMs: 1_000,
      maxRetries: 1,
    });
    servers.push(cq);
    await farmReady(cq.url, ['w1']);
    const id = await submit(cq.url, 10, 2);
    // The first claim stalls and is retried; the second claim is the same worker's.
    const second = await until(async () => {
      const j = (await http('GET', `${cq.url}/api/pqueue/jobs/${id}`)).body;
      return j.status === 'in_progress' && j.attempts === 2 ? j : undefined;
    }, 'the second claim');
    assert.equal(second.worker, 'w1');
    await cq.engine.finished('w1', id, { status: 'completed', endedAt: Date.now(), outputs: {} }, 1);
    await cq.engine.lost('w1', id, 'a late loss report', 1);
    await cq.engine.withdrawn('w1', id, 'a late withdrawal', 1);
    const after = (await http('GET', `${cq.url}/api/pqueue/jobs/${id}`)).body;
    assert.equal(after.status, 'in_progress', 'the stale reports did not end or release the job');
    assert.equal(after.attempts, 2);
    assert.equal(after.worker, 'w1');
    assert.equal(after.retries, 1);

    // The current claim's own report counts: it stalls too, and the retry budget is spent.
    const done = await waitForStatus(cq.url, id, ['completed', 'failed']);
    assert.equal(done.status, 'failed');
    assert.equal(done.error.type, 'stalled');
    assert.match(done.error.message, /No message from worker w1 .* \(failed on 2 workers\)/);
    assert.equal(done.attempts, 2);
  });
});
