/**
 * A pending job that no worker can run any more (a worker restarted without a
 * custom node, a file its prompt names is gone) waits instead of failing: it
 * stays pending, held back from dispatch with the reason in its JSON, runs as
 * soon as a worker can run it again, and fails only when none could for the
 * grace period.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startSimulator } from '../../src/sim/index.js';
import { http, startTestServer, t2iPrompt, until, waitForStatus } from '../helpers/harness.js';

const needs = (image: string) => ({
  '1': { class_type: 'LoadImage', inputs: { image } },
  '2': { class_type: 'PreviewImage', inputs: { images: ['1', 0] } },
});

async function upload(simUrl: string, name: string): Promise<void> {
  const form = new FormData();
  form.append('image', new Blob([Buffer.from('89504e470d0a1a0a', 'hex')]), name);
  const res = await fetch(`${simUrl}/upload/image`, { method: 'POST', body: form });
  assert.equal(res.status, 200);
}

describe('pending jobs no worker can run', () => {
  test('wait (visible in the job), are skipped by dispatch, and run once a worker can', async () => {
    const sim = await startSimulator({ stepMs: 1 });
    const cq = await startTestServer({ comfyUrls: [sim.url] });
    try {
      await cq.engine.pause();
      // Stored directly, as a job stored before the worker lost what it needs.
      const job = await cq.engine.enqueue({ prompt: needs('later.png') });
      cq.engine.stateChanged('w1', 'online'); // the worker (re)connects: its object_info is read again
      const waiting = await until(async () => {
        const r = await http('GET', `${cq.url}/api/pqueue/jobs/${job.id}`);
        return r.body.waiting ? r.body : undefined;
      }, 'the job to wait');
      assert.equal(waiting.status, 'pending');
      assert.match(waiting.waiting.reason, /No worker can run this job/);
      assert.ok(waiting.waiting.fails_at > waiting.waiting.since);
      const listed = (await http('GET', `${cq.url}/api/pqueue`)).body.pending;
      assert.deepEqual(listed[0].waiting, waiting.waiting);

      // A job behind it runs: the waiting one is skipped, not blocking the queue.
      await cq.engine.resume();
      const behind = (await http('POST', `${cq.url}/api/pqueue/jobs`, { prompt: t2iPrompt(1) })).body;
      assert.equal(
        (await waitForStatus(cq.url, behind.prompt_id, ['completed', 'failed'])).status,
        'completed',
      );
      assert.equal((await cq.store.get(job.id))?.status, 'pending');

      // The worker has the file again: the job runs.
      await upload(sim.url, 'later.png');
      cq.engine.stateChanged('w1', 'online');
      const done = await waitForStatus(cq.url, job.id, ['completed', 'failed']);
      assert.equal(done.status, 'completed', JSON.stringify(done.error));
      assert.equal(cq.engine.holdOf(job.id), null);
    } finally {
      await cq.close();
      await sim.close();
    }
  });

  test('fail with invalid_job when no worker could run them for the grace period', async () => {
    const sim = await startSimulator({ stepMs: 1 });
    const cq = await startTestServer({ comfyUrls: [sim.url], missingNodeGraceMs: 1_000 });
    try {
      const job = await cq.engine.enqueue({ prompt: { '1': { class_type: 'RemovedNode', inputs: {} } } });
      cq.engine.stateChanged('w1', 'online');
      await until(async () => (cq.engine.holdOf(job.id) ? true : undefined), 'the job to wait');
      // No further worker event: the grace period's end alone fails it.
      const failed = await waitForStatus(cq.url, job.id, ['failed']);
      assert.equal(failed.error.type, 'invalid_job');
      assert.match(failed.error.message, /RemovedNode/);
      assert.equal(cq.engine.holdOf(job.id), null);
    } finally {
      await cq.close();
      await sim.close();
    }
  });
});
