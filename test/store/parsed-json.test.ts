import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ParsedJson } from '../../src/store/sqlite/parsed-json.js';

test('the same text under the same key is parsed once; other text is parsed again', () => {
  const cache = new ParsedJson();
  const a = cache.parse<{ n: number }>('j1\0prompt', '{"n":1}');
  assert.equal(cache.parse('j1\0prompt', '{"n":1}'), a, 'the kept value');
  const b = cache.parse<{ n: number }>('j1\0prompt', '{"n":2}');
  assert.notEqual(b, a);
  assert.equal(b.n, 2);
  assert.notEqual(cache.parse('j2\0prompt', '{"n":2}'), b, 'another key is an entry of its own');
  assert.throws(() => cache.parse('j3\0prompt', '{not json'), SyntaxError);
  assert.equal(cache.size, 2);
});

test('beyond its entries the least recently read go first', () => {
  const cache = new ParsedJson(2);
  const one = cache.parse('1', '[1]');
  const two = cache.parse('2', '[2]');
  assert.equal(cache.parse('1', '[1]'), one, 'read again: now the most recent');
  const three = cache.parse('3', '[3]');
  assert.equal(cache.size, 2);
  assert.equal(cache.parse('1', '[1]'), one, '1 stayed');
  assert.equal(cache.parse('3', '[3]'), three, '3 stayed');
  assert.notEqual(cache.parse('2', '[2]'), two, '2 went and is parsed afresh');
});

test('beyond its text bound the oldest go, and a text too big is never kept', () => {
  const cache = new ParsedJson(100, 80);
  const big = JSON.stringify('x'.repeat(20)); // 22 characters: more than an eighth of 80
  const kept = cache.parse<string>('big', big);
  assert.equal(kept, 'x'.repeat(20));
  assert.equal(cache.size, 0);
  const arrays = Array.from({ length: 30 }, (_, i) => cache.parse(String(i), `[${i}]`));
  // 10 × 3 + 20 × 4 = 110 characters: the first ones made room.
  assert.ok(cache.size < 30);
  assert.notEqual(cache.parse('0', '[0]'), arrays[0]);
  assert.equal(cache.parse('29', '[29]'), arrays[29]);
});
