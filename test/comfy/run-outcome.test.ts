/**
 * A run's outcome read from its websocket messages: a run that ended well is
 * settled without asking the worker for its history, with the outputs the
 * history has; what the messages cannot tell for sure (a cached output node
 * an older ComfyUI does not re-send, an error) is read from the history.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { startSimulator } from '../../src/sim/index.js';
import { spawnAgent } from '../helpers/agents.js';
import { http, startTestServer, t2iPrompt, tempDir, until } from '../helpers/harness.js';

type Setup = {
  sim: Awaited<ReturnType<typeof startSimulator>>;
  url: string;
  headers?: Record<string, string>;
};

async function finished(url: string, id: string, headers?: Record<string, string>): Promise<any> {
  return until(async () => {
    const r = await http('GET', `${url}/api/pqueue/jobs/${id}`, undefined, headers);
    return ['completed', 'failed', 'cancelled'].includes(r.body?.status) ? r.body : undefined;
  }, `job ${id} to finish`);
}

/** Runs `prompt` to its end; its outputs, how often its history was read, and the history's own outputs. */
async function run({ sim, url, headers }: Setup, prompt: Record<string, unknown>) {
  const r = await http('POST', `${url}/api/pqueue/jobs`, { prompt }, headers);
  assert.equal(r.status, 201, r.text);
  const id = r.body.prompt_id as string;
  const job = await finished(url, id, headers);
  const reads = ((await http('GET', `${sim.url}/sim/history-reads`)).body as Record<string, number>)[id] ?? 0;
  const entry = (await http('GET', `${sim.url}/history/${id}`)).body[id];
  return { job, reads, historyOutputs: entry.outputs };
}

describe('the outcome of a run from its messages', () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  async function setup(opts: Parameters<typeof startSimulator>[0]): Promise<Setup> {
    const sim = await startSimulator({ stepMs: 1, ...opts });
    cleanups.push(() => sim.close());
    // No poll during a run: only the end of the run may read the history.
    const server = await startTestServer({ comfyUrls: [sim.url], pollMs: 60_000 });
    cleanups.push(() => server.close());
    return { sim, url: server.url };
  }

  test('a run that ended well, and the same prompt again (all cached): no history read, its outputs', async () => {
    const s = await setup({});
    for (const attempt of ['first', 'cached']) {
      const { job, reads, historyOutputs } = await run(s, t2iPrompt(2, 41));
      assert.equal(job.status, 'completed', attempt);
      assert.ok(Object.keys(historyOutputs).length > 0, attempt);
      assert.deepEqual(job.outputs, historyOutputs, attempt);
      assert.equal(reads, 0, `${attempt}: the history was read ${reads} times`);
    }
  });

  test('an older ComfyUI that does not re-send cached outputs: the cached run reads its history', async () => {
    const s = await setup({ resendCachedUi: false });
    const first = await run(s, t2iPrompt(2, 42));
    assert.equal(first.reads, 0);
    const cached = await run(s, t2iPrompt(2, 42));
    assert.equal(cached.job.status, 'completed');
    assert.ok(cached.reads >= 1, 'the cached run read its history');
    assert.ok(Object.keys(cached.historyOutputs).length > 0);
    assert.deepEqual(cached.job.outputs, cached.historyOutputs);
    assert.deepEqual(cached.job.outputs, first.job.outputs);
  });

  test('on a remote agent too: the cached run is told by its messages', async () => {
    const sim = await startSimulator({ stepMs: 1 });
    cleanups.push(() => sim.close());
    const token = 'run-outcome-token';
    const headers = { authorization: `Bearer ${token}` };
    const server = await startTestServer({ comfyUrls: [], token, pollMs: 60_000 });
    cleanups.push(() => server.close());
    const data = tempDir();
    const agent = await spawnAgent([
      '--server',
      server.url,
      '--enroll',
      token,
      '--comfy',
      sim.url,
      '--data',
      data.path,
      '--name',
      'remote',
    ]);
    cleanups.push(async () => {
      await agent.kill();
      data.remove();
    });
    await until(async () => {
      const w = await http('GET', `${server.url}/api/farm/workers/remote`, undefined, headers);
      return w.body?.state === 'online' && w.body.capabilities ? true : undefined;
    }, 'the agent online, its node types known');
    const s = { sim, url: server.url, headers };
    for (const attempt of ['first', 'cached']) {
      const { job, reads, historyOutputs } = await run(s, t2iPrompt(2, 44));
      assert.equal(job.status, 'completed', attempt);
      assert.deepEqual(job.outputs, historyOutputs, attempt);
      assert.equal(reads, 0, `${attempt}: the history was read ${reads} times`);
    }
  });

  test('a run that failed: its error comes from the history', async () => {
    const s = await setup({ failRate: 1 });
    const { job, reads } = await run(s, t2iPrompt(2, 43));
    assert.equal(job.status, 'failed');
    assert.match(job.error.message, /Simulated failure/);
    assert.ok(reads >= 1);
  });
});
