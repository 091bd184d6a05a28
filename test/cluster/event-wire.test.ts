import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pack, packetOverhead, toWire, unpack } from '../../src/cluster/event-wire.js';
import type { Job } from '../../src/domain/job.js';

const job = { id: 'j1' } as Job;

test('job events travel as ids; reasons are kept, and bounded', () => {
  assert.deepEqual(toWire({ type: 'job.started', job }), [{ t: 'job', e: 'job.started', id: 'j1' }]);
  const [released] = toWire({ type: 'job.released', job, reason: 'x'.repeat(2_000) });
  assert.equal((released as { reason: string }).reason.length, 500);
  assert.deepEqual(toWire({ type: 'job.waiting', job, reason: 'no model', since: 5 }), [
    { t: 'job', e: 'job.waiting', id: 'j1', reason: 'no model', since: 5 },
  ]);
});

test('a mass delete is split into messages of 100 ids; a long reorder is sent without its ids', () => {
  const ids = Array.from({ length: 250 }, (_, i) => `id-${i}`);
  const deleted = toWire({ type: 'job.deleted', ids });
  assert.deepEqual(
    deleted.map((m) => (m as { ids: string[] }).ids.length),
    [100, 100, 50],
  );
  assert.deepEqual(toWire({ type: 'queue.reordered', ids }), [{ t: 'reordered', ids: [] }]);
});

test('packets stay under the limit, keep the order, and unpack to the same messages', () => {
  const messages = Array.from({ length: 300 }, (_, i) =>
    JSON.stringify({ t: 'text', w: 'w1', j: `job-${i}`, raw: 'é'.repeat(i % 40) }),
  );
  const packets = pack('server-1', messages, 1_000);
  assert.ok(packets.length > 1);
  for (const p of packets) assert.ok(Buffer.byteLength(p) <= 1_000, `${Buffer.byteLength(p)} bytes`);
  const back = packets.flatMap((p) => unpack(p)!.m.map((m) => JSON.stringify(m)));
  assert.deepEqual(back, messages);
  assert.equal(unpack(packets[0]!)!.o, 'server-1');
});

test('a message too big for a packet is refused (the sender relays it instead)', () => {
  const big = JSON.stringify({ t: 'text', w: 'w', j: 'j', raw: 'x'.repeat(2_000) });
  assert.throws(() => pack('s', [big], 1_000), /does not fit/);
  assert.ok(packetOverhead('s') < 30);
});

test('what is not a packet of ours is ignored', () => {
  assert.equal(unpack('not json'), null);
  assert.equal(unpack('{"o":1,"m":[]}'), null);
  assert.deepEqual(unpack('{"o":"s","m":[{"t":"paused"},7,null]}'), { o: 's', m: [{ t: 'paused' }] });
});
