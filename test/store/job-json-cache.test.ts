import assert from 'node:assert/strict';
import { test } from 'node:test';
import { identityOf, type JobJson, JobJsonCache } from '../../src/store/sqlite/job-json-cache.js';

const json = (n: number): JobJson => ({
  prompt: { [String(n)]: { class_type: 'SaveImage', inputs: {} } },
  workflow: null,
  extraData: {},
});
const id = (createdAt: number, promptBytes = 10) =>
  identityOf({ created_at: createdAt, prompt_bytes: promptBytes, workflow_bytes: null, extra_bytes: 2 });

test('a job is answered only for the version it was kept for', () => {
  const cache = new JobJsonCache();
  const a = json(1);
  cache.set('j1', id(100), a, 12);
  assert.equal(cache.get('j1', id(100)), a);
  assert.equal(cache.get('j1', id(100, 11)), undefined, 'another length: another version');
  assert.equal(cache.get('j1', id(100)), undefined, 'the stale entry went');
  cache.set('j1', id(200), json(2), 12);
  assert.equal(cache.get('j1', id(100)), undefined, 'deleted and sent again: another creation time');
  assert.equal(cache.get('j2', id(200)), undefined);
  assert.notEqual(id(1), identityOf({ created_at: 1, prompt_bytes: 10, workflow_bytes: 0, extra_bytes: 2 }));
});

test('beyond its jobs the least recently read go first', () => {
  const cache = new JobJsonCache(2);
  cache.set('1', id(1), json(1), 10);
  cache.set('2', id(2), json(2), 10);
  assert.ok(cache.get('1', id(1)), 'read: now the most recent');
  cache.set('3', id(3), json(3), 10);
  assert.equal(cache.size, 2);
  assert.ok(cache.get('1', id(1)));
  assert.ok(cache.get('3', id(3)));
  assert.equal(cache.get('2', id(2)), undefined);
});

test('beyond its bytes the oldest go, and a job too big is never kept', () => {
  const cache = new JobJsonCache(100, 800);
  cache.set('big', id(1), json(1), 101); // more than an eighth of 800
  assert.equal(cache.size, 0);
  for (let i = 0; i < 10; i++) cache.set(String(i), id(i), json(i), 100);
  assert.equal(cache.size, 8);
  assert.equal(cache.get('0', id(0)), undefined);
  assert.equal(cache.get('1', id(1)), undefined);
  assert.ok(cache.get('9', id(9)));
});
