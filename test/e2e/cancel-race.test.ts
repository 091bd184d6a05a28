/**
 * A cancel that arrives while the job's submission to the worker is under way
 * (claimed, POST /prompt not answered yet) still cancels it: the user got 200,
 * so the job must not run to the end.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startSimulator } from '../../src/sim/index.js';
import { http, simExecutions, startTestServer, t2iPrompt, until, waitForStatus } from '../helpers/harness.js';

async function cancelDuringSubmission(stage: 'before-queue' | 'before-answer'): Promise<void> {
  let release!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  let reached!: () => void;
  const atGate = new Promise<void>((r) => {
    reached = r;
  });
  const sim = await startSimulator({
    stepMs: 5,
    promptGate: async (_id, s) => {
      if (s !== stage) return;
      reached();
      await released;
    },
  });
  const cq = await startTestServer({ comfyUrls: [sim.url] });
  try {
    const job = (await http('POST', `${cq.url}/api/pqueue/jobs`, { prompt: t2iPrompt(40) })).body;
    await atGate; // the worker has the POST /prompt and does not answer yet
    const r = await http('POST', `${cq.url}/api/pqueue/jobs/${job.prompt_id}/cancel`);
    assert.equal(r.status, 200, r.text);
    release();
    const done = await waitForStatus(cq.url, job.prompt_id, ['completed', 'failed', 'cancelled']);
    assert.equal(done.status, 'cancelled', JSON.stringify(done));
    const runs = (await simExecutions(sim.url)).filter((e) => e.prompt_id === job.prompt_id);
    assert.ok(
      runs.every((e) => e.outcome !== 'success'),
      `the cancelled job ran to the end: ${JSON.stringify(runs)}`,
    );
    // The worker is free for the next job.
    const next = (await http('POST', `${cq.url}/api/pqueue/jobs`, { prompt: t2iPrompt(1) })).body;
    assert.equal((await waitForStatus(cq.url, next.prompt_id, ['completed', 'failed'])).status, 'completed');
  } finally {
    release();
    await cq.close();
    await sim.close();
  }
}

describe('cancel during submission', () => {
  test('before the worker has queued the prompt', () => cancelDuringSubmission('before-queue'));
  test('after the worker queued it, before it answered', () => cancelDuringSubmission('before-answer'));

  test('claimed in the store, not yet handed to the worker', async () => {
    const sim = await startSimulator({ stepMs: 5 });
    const cq = await startTestServer({ comfyUrls: [sim.url] });
    try {
      await until(async () => (cq.workers[0]!.state === 'online' ? true : undefined), 'the worker online');
      // The scheduler claims the job routing chose (claimJob).
      const claimJob = cq.store.claimJob.bind(cq.store);
      let release!: () => void;
      const released = new Promise<void>((r) => {
        release = r;
      });
      let claimed!: (id: string) => void;
      const claimedId = new Promise<string>((r) => {
        claimed = r;
      });
      cq.store.claimJob = async (...args) => {
        const job = await claimJob(...args);
        if (job) {
          claimed(job.id);
          await released; // committed as in_progress on w1; the driver does not have it yet
        }
        return job;
      };
      await http('POST', `${cq.url}/api/pqueue/jobs`, { prompt: t2iPrompt(40) });
      const id = await claimedId;
      const r = await http('POST', `${cq.url}/api/pqueue/jobs/${id}/cancel`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.status, 'in_progress');
      cq.store.claimJob = claimJob;
      release();
      const done = await waitForStatus(cq.url, id, ['completed', 'failed', 'cancelled']);
      assert.equal(done.status, 'cancelled', JSON.stringify(done));
    } finally {
      await cq.close();
      await sim.close();
    }
  });
});
