import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type RunningSimulator, startSimulator } from '../../src/sim/index.js';
import { t2iPrompt } from '../helpers/harness.js';
import { finished, getJson, isText, openSocket, postJson } from './helpers.js';

function withCkpt(ckpt: string, seed: number): Record<string, unknown> {
  const p = t2iPrompt(2, seed) as Record<string, { inputs: Record<string, unknown> }>;
  p['4']!.inputs.ckpt_name = ckpt;
  return p;
}

async function run(
  sim: RunningSimulator,
  clientId: string,
  prompt: Record<string, unknown>,
): Promise<string> {
  const sock = await openSocket(sim.url, clientId);
  try {
    const res = await postJson(`${sim.url}/prompt`, { prompt, client_id: clientId });
    assert.equal(res.status, 200, res.text);
    const id = (res.json as { prompt_id: string }).prompt_id;
    await sock.waitFor(finished(id));
    return id;
  } finally {
    await sock.close();
  }
}

describe('simulator options for the farm', () => {
  const sims: RunningSimulator[] = [];
  after(async () => {
    for (const s of sims) await s.close();
  });

  it('modelLoadMs: a checkpoint change is a load, counted by GET /sim/models; the same one is not', async () => {
    const sim = await startSimulator({ stepMs: 0, modelLoadMs: 1 });
    sims.push(sim);
    await run(sim, 'm', withCkpt('v1-5-pruned-emaonly.safetensors', 1));
    await run(sim, 'm', withCkpt('v1-5-pruned-emaonly.safetensors', 2));
    assert.deepEqual(await getJson(`${sim.url}/sim/models`), {
      loaded: 'v1-5-pruned-emaonly.safetensors',
      loads: 1,
    });
    await run(sim, 'm', withCkpt('sd_xl_base_1.0.safetensors', 3));
    await run(sim, 'm', withCkpt('v1-5-pruned-emaonly.safetensors', 4));
    assert.deepEqual(await getJson(`${sim.url}/sim/models`), {
      loaded: 'v1-5-pruned-emaonly.safetensors',
      loads: 3,
    });
  });

  it('stallAtStep: the sampler goes silent at that step until the prompt is interrupted', async () => {
    const sim = await startSimulator({ stepMs: 1, stallAtStep: 3 });
    sims.push(sim);
    const sock = await openSocket(sim.url, 's');
    try {
      const res = await postJson(`${sim.url}/prompt`, { prompt: t2iPrompt(10, 1), client_id: 's' });
      const id = (res.json as { prompt_id: string }).prompt_id;
      await sock.waitFor(isText('progress', (d) => d.prompt_id === id && d.value === 2));
      // Still running: the queue shows it, and no step past 2 was reported.
      const q = (await getJson(`${sim.url}/queue`)) as { queue_running: unknown[][] };
      assert.equal(q.queue_running[0]?.[1], id);
      await postJson(`${sim.url}/interrupt`, { prompt_id: id });
      await sock.waitFor(isText('execution_interrupted', (d) => d.prompt_id === id));
      const steps = sock.frames.filter(
        (f) => f.kind === 'text' && f.type === 'progress' && f.data.prompt_id === id,
      );
      assert.ok(steps.every((f) => f.kind === 'text' && (f.data.value as number) < 3));
    } finally {
      await sock.close();
    }
  });
});
