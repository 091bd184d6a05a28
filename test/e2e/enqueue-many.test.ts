/** Several jobs enqueued in one call go in together or not at all. */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { QueueError } from '../../src/domain/errors.js';
import type { PromptGraph } from '../../src/domain/job.js';
import type { QueueEvent } from '../../src/engine/events.js';
import { newId, startTestServer, t2iPrompt } from '../helpers/harness.js';

const graph = (seed: number) => t2iPrompt(1, seed) as PromptGraph;

test('an enqueue of several jobs with a taken id stores and announces none of them', async () => {
  // No worker answers here: the jobs stay pending.
  const server = await startTestServer({ comfyUrls: ['http://127.0.0.1:9'] });
  after(() => server.close());
  const engine = server.engine;
  const taken = await engine.enqueue({ prompt: graph(1) });
  const events: QueueEvent[] = [];
  engine.bus.subscribe((e) => events.push(e));

  const fresh = newId();
  await assert.rejects(
    engine.enqueueMany([
      { prompt: graph(2), promptId: fresh },
      { prompt: graph(3), promptId: taken.id },
    ]),
    (err: unknown) => {
      assert.ok(err instanceof QueueError);
      assert.equal(err.code, 'DUPLICATE_ID');
      assert.equal(err.status, 409);
      assert.match(err.message, new RegExp(taken.id));
      return true;
    },
  );
  assert.equal(await server.store.get(fresh), null);
  assert.deepEqual(
    events.filter((e) => e.type === 'job.queued'),
    [],
  );
  assert.equal((await server.store.counts()).pending, 1);

  // Without the taken id, both go in and are announced.
  const jobs = await engine.enqueueMany([{ prompt: graph(2), promptId: fresh }, { prompt: graph(4) }]);
  assert.equal(jobs.length, 2);
  assert.deepEqual(
    events.filter((e) => e.type === 'job.queued').map((e) => (e.type === 'job.queued' ? e.job.id : '')),
    jobs.map((j) => j.id),
  );
});
