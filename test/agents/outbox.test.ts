/** The agent's outbox: kept on disk until acknowledged, replayed in order after a restart, each message once. */
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { HeldJobs } from '../../src/agents/client/held-jobs.js';
import { Outbox } from '../../src/agents/client/outbox.js';
import { decodeBinary, encodeBinary } from '../../src/agents/protocol.js';
import type { Job } from '../../src/domain/job.js';
import { tempDir } from '../helpers/harness.js';

const finished = (job: string, attempt = 1) =>
  ({ t: 'finished', job, attempt, patch: { status: 'completed', endedAt: 1 } }) as const;
const frame = (job: string) => ({ t: 'frame', job, attempt: 1, raw: '{"type":"progress"}' }) as const;

test('reports are on disk at once; frames only while disconnected or when the connection drops', () => {
  const dir = tempDir();
  const box = new Outbox(dir.path);
  box.add(frame('a'), false);
  box.add(finished('a'), true);
  const file = join(dir.path, 'outbox.jsonl');
  assert.equal(readFileSync(file, 'utf8').trim().split('\n').length, 1, 'only the report');
  box.persistAll();
  assert.equal(readFileSync(file, 'utf8').trim().split('\n').length, 2);
  dir.remove();
});

test('after a restart, what was not acknowledged comes back in order under its old session', () => {
  const dir = tempDir();
  const first = new Outbox(dir.path);
  const e1 = first.add(finished('a'), true);
  const e2 = first.add(finished('b'), true);
  first.add(finished('c'), true);
  first.ack(e1.s, e1.q);
  const again = new Outbox(dir.path);
  assert.notEqual(again.session, first.session);
  assert.deepEqual(
    again.unacked().map((e) => [e.s, e.q, e.m.t === 'finished' && e.m.job]),
    [
      [first.session, 2, 'b'],
      [first.session, 3, 'c'],
    ],
  );
  assert.deepEqual(again.sessions(), [again.session, first.session]);
  assert.equal(again.hasReport('b', 1), true);
  assert.equal(again.hasReport('b', 2), false);
  // The server took up to 3 of the old session: nothing is left, and the file is emptied.
  again.ack(e2.s, 3);
  assert.equal(again.size, 0);
  assert.equal(readFileSync(join(dir.path, 'outbox.jsonl'), 'utf8'), '');
  assert.equal(new Outbox(dir.path).size, 0);
  dir.remove();
});

test('a line cut short by a crash is skipped', () => {
  const dir = tempDir();
  const box = new Outbox(dir.path);
  box.add(finished('a'), true);
  const file = join(dir.path, 'outbox.jsonl');
  const text = readFileSync(file, 'utf8');
  appendFileSync(file, text.slice(0, 20));
  const again = new Outbox(dir.path);
  assert.equal(again.size, 1);
  dir.remove();
});

test('held jobs survive a restart; a report of another claim does not remove them', () => {
  const dir = tempDir();
  const held = new HeldJobs(dir.path);
  held.put({ id: 'j1', attempts: 2 } as Job);
  held.put({ id: 'j2', attempts: 1 } as Job);
  held.remove('j1', 1);
  held.remove('j2', 1);
  assert.deepEqual(
    new HeldJobs(dir.path).list().map((j) => j.id),
    ['j1'],
  );
  dir.remove();
});

test('binary messages carry a JSON header and the bytes', () => {
  const body = Buffer.from([1, 2, 3, 250]);
  const out = decodeBinary<{ t: string; id: number }>(encodeBinary({ t: 'chunk', id: 7 }, body));
  assert.deepEqual(out?.header, { t: 'chunk', id: 7 });
  assert.deepEqual(out?.body, body);
  assert.equal(decodeBinary(Buffer.from([0, 0, 0, 9, 1])), null);
});
