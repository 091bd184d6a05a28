/**
 * Fair share: a person's single job queued behind a 2,000-item batch starts
 * at the next free worker, not after the batch.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startSimulator } from '../../src/sim/index.js';
import { http, simExecutions, startTestServer, t2iPrompt, until, waitForStatus } from '../helpers/harness.js';

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

test('a single job queued after a 2,000-item batch starts at the next free worker', async () => {
  const sims = await Promise.all([0, 1].map(() => startSimulator({ port: 0, stepMs: 10 })));
  for (const s of sims) closers.push(() => s.close());
  const server = await startTestServer({ comfyUrls: sims.map((s) => s.url), workerCapacity: 2 });
  closers.push(() => server.close());

  const batch = await http('POST', `${server.url}/api/pqueue/batches`, {
    name: 'big',
    prompt: t2iPrompt(4, 0),
    count: 2_000,
    seed: { start: 1 },
  });
  assert.equal(batch.status, 201, batch.text);
  await until(async () => {
    const r = await http('GET', `${server.url}/api/pqueue/batches/${batch.body.id}`);
    return r.body.counts.completed >= 4 ? true : undefined;
  }, 'the batch to be under way');

  const queuedAt = Date.now();
  const single = await http('POST', `${server.url}/api/pqueue/jobs`, {
    prompt: t2iPrompt(4, 42),
    client_id: 'a-person',
  });
  assert.equal(single.status, 201, single.text);
  await waitForStatus(server.url, single.body.prompt_id, ['completed']);

  const runs = (await Promise.all(sims.map((s) => simExecutions(s.url)))).flat();
  const mine = runs.find((r) => r.prompt_id === single.body.prompt_id);
  assert.ok(mine);
  // Batch items that began between the single job's arrival and its start: at most what the
  // workers had already been handed (their capacity, 2 each: one running, one in their own
  // queue, or one claimed in the dispatch pass that was under way when the job arrived).
  const overtook = runs.filter(
    (r) => r.prompt_id !== mine.prompt_id && r.start > queuedAt && r.start < mine.start,
  );
  assert.ok(
    overtook.length <= sims.length * 2,
    `${overtook.length} batch items started before the single job`,
  );
  const progress = await http('GET', `${server.url}/api/pqueue/batches/${batch.body.id}`);
  assert.ok(progress.body.counts.pending > 1_500, 'the batch was far from done');

  const cancelled = await http('POST', `${server.url}/api/pqueue/batches/${batch.body.id}/cancel`);
  assert.equal(cancelled.status, 200);
  assert.ok(cancelled.body.cancelled > 1_500);
  await until(async () => {
    const r = await http('GET', `${server.url}/api/pqueue/batches/${batch.body.id}`);
    return r.body.state === 'finished' ? true : undefined;
  }, 'the cancelled batch to settle');
});
