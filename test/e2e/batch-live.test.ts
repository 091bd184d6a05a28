/**
 * A batch followed over the event websocket: `batch.progress` tells every
 * item that changed and ends on the batch's final figures; its throughput
 * over time counts every finished item.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startSimulator } from '../../src/sim/index.js';
import { EventClient } from '../helpers/event-client.js';
import { http, startTestServer, t2iPrompt } from '../helpers/harness.js';

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

const ITEMS = 120;

test('a batch is followed live to its end, and its throughput counts every item', async () => {
  const sims = await Promise.all([0, 1].map(() => startSimulator({ port: 0, stepMs: 1 })));
  for (const s of sims) closers.push(() => s.close());
  const server = await startTestServer({ comfyUrls: sims.map((s) => s.url) });
  closers.push(() => server.close());
  const events = await EventClient.connect(server.url);
  closers.push(async () => events.ws.close());
  await events.waitFor((r) => r.kind === 'text' && r.msg.type === 'snapshot', 'the snapshot');

  const created = await http('POST', `${server.url}/api/pqueue/batches`, {
    name: 'live',
    prompt: t2iPrompt(1, 0),
    count: ITEMS,
    seed: { start: 1 },
  });
  assert.equal(created.status, 201, created.text);
  const id = created.body.id;

  const last = await events.waitFor(
    (r) =>
      r.kind === 'text' &&
      r.msg.type === 'batch.progress' &&
      r.msg.batch_id === id &&
      r.msg.tracker.complete === ITEMS,
    'every item complete, told over the websocket',
    120_000,
  );
  const final = (last as { msg: any }).msg;
  assert.equal(final.state, 'finished');
  assert.equal(final.total, ITEMS);
  assert.equal(final.counts.completed, ITEMS);
  assert.equal(final.eta_ms, null);

  const progress = events.texts().filter((m) => m.type === 'batch.progress' && m.batch_id === id);
  const told = new Set(progress.flatMap((m) => m.changed ?? []));
  const many = progress.some((m) => m.changed === null);
  // Each item changed at least twice (started, finished): every one is named unless a message said "many".
  for (let i = 1; i <= ITEMS; i++) assert.ok(many || told.has(i), `item ${i} named in a batch.progress`);
  for (const m of progress)
    if (m.changed)
      assert.deepEqual(
        m.changed,
        [...m.changed].sort((a, b) => a - b),
      );

  const life = await http('GET', `${server.url}/api/pqueue/batches/${id}/throughput`);
  assert.equal(life.status, 200, life.text);
  assert.equal(life.body.span, 'life');
  const sum = (r: typeof life) =>
    r.body.buckets.reduce(
      (n: number, b: { completed: number; failed: number }) => n + b.completed + b.failed,
      0,
    );
  assert.equal(sum(life), ITEMS);
  assert.ok(life.body.buckets.length >= 1 && life.body.buckets.length <= 120);
  assert.equal(life.body.buckets[0].start, life.body.from);
  const hour = await http('GET', `${server.url}/api/pqueue/batches/${id}/throughput?span=hour`);
  assert.equal(hour.body.bucket_ms, 60_000);
  assert.equal(hour.body.buckets.length, 60);
  assert.equal(sum(hour), ITEMS);

  const bad = await http('GET', `${server.url}/api/pqueue/batches/${id}/throughput?span=week`);
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'INVALID_QUERY');
  assert.match(bad.body.error.message, /span must be one of life, hour/);
  const extra = await http('GET', `${server.url}/api/pqueue/batches/${id}/throughput?spam=1`);
  assert.equal(extra.body.error.code, 'INVALID_QUERY');
  const missing = await http('GET', `${server.url}/api/pqueue/batches/999/throughput`);
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.code, 'BATCH_NOT_FOUND');

  const deleted = await http('DELETE', `${server.url}/api/pqueue/batches/${id}`);
  assert.equal(deleted.status, 200, deleted.text);
  await events.waitFor(
    (r) => r.kind === 'text' && r.msg.type === 'batch.deleted' && r.msg.batch_id === id,
    'batch.deleted',
  );
});
