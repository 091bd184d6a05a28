/**
 * Jobs reach a worker in queue order even when the network would reorder
 * them: two submissions to one ComfyUI are never in flight at once.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { PostPromptBody } from '../../src/comfy/client.js';
import { startSimulator } from '../../src/sim/index.js';
import { http, simExecutions, startTestServer, t2iPrompt, until, waitForStatus } from '../helpers/harness.js';

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

test('the jobs handed to a worker at once run in queue order when the later submission would arrive first', async () => {
  const sim = await startSimulator({ port: 0, stepMs: 1 });
  closers.push(() => sim.close());
  const server = await startTestServer({ comfyUrls: [sim.url], workerCapacity: 2 });
  closers.push(() => server.close());
  await http('POST', `${server.url}/api/pqueue/pause`);
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    ids.push(
      (await http('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(1, i) })).body.prompt_id,
    );
  }
  const order = (await http('GET', `${server.url}/api/pqueue`)).body.pending.map((j: any) => j.prompt_id);
  assert.deepEqual(order, ids);

  // A slow path for the first submission: when a second one comes while the
  // first is still on its way, the second reaches ComfyUI first.
  const client = server.workers[0]!.client;
  const post = client.postPrompt.bind(client);
  let held: ((overtaking: Promise<unknown>) => void) | null = null;
  let first = true;
  client.postPrompt = (body: PostPromptBody) => {
    if (held) {
      const overtaking = post(body);
      held(overtaking);
      return overtaking;
    }
    if (!first) return post(body);
    first = false;
    return new Promise((resolve, reject) => {
      let sent = false;
      const go = () => {
        if (sent) return;
        sent = true;
        held = null;
        post(body).then(resolve, reject);
      };
      // The overtaking request reaches ComfyUI (it answers), then this one is sent.
      held = (overtaking) => {
        overtaking.finally(go);
      };
      // Nothing overtook once the worker holds both jobs and has had turns to send the second
      // (submissions are one at a time): this one goes.
      until(async () => (server.workers[0]!.heldJobIds().length >= 2 ? true : undefined), 'both jobs held')
        .then(() => new Promise((r) => setImmediate(r)))
        .then(() => new Promise((r) => setImmediate(r)))
        .then(go, reject);
    });
  };

  await http('POST', `${server.url}/api/pqueue/resume`);
  for (const id of ids) await waitForStatus(server.url, id, ['completed']);
  assert.deepEqual(
    (await simExecutions(sim.url)).map((e) => e.prompt_id),
    order,
  );
});
