import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { jsonNestingExceeds, MAX_JSON_DEPTH } from '../../src/api/json-depth.js';

function depthOf(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0;
  const kids = Array.isArray(v) ? v : Object.values(v);
  return 1 + kids.reduce<number>((m, k) => Math.max(m, depthOf(k)), 0);
}

test('the limit counts arrays and objects, not brackets inside strings', () => {
  const nest = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
  assert.equal(jsonNestingExceeds(nest(MAX_JSON_DEPTH)), false);
  assert.equal(jsonNestingExceeds(nest(MAX_JSON_DEPTH + 1)), true);
  assert.equal(jsonNestingExceeds('{"a":'.repeat(101) + '1' + '}'.repeat(101)), true);
  assert.equal(jsonNestingExceeds(JSON.stringify({ s: '[[[[[[', t: 'x\\"[[[[{{{' }), 2), false);
  assert.equal(jsonNestingExceeds(JSON.stringify(['"', ['\\', [[]]]]), 3), true);
  // A million levels are read without recursion.
  assert.equal(jsonNestingExceeds('['.repeat(1_000_000)), true);
});

test('it agrees with the depth of the parsed value', () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 0, max: 9 }), (value, limit) => {
      const text = JSON.stringify(value);
      assert.equal(jsonNestingExceeds(text, limit), depthOf(value) > limit);
    }),
    { seed: 20261201, numRuns: 500 },
  );
});
