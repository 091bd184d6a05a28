import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ApiPrompt } from '../../src/domain/prompt-graph.js';
import { signatures } from '../../src/sim/cache-keys.js';

/** An image inverted `n` times, saved: a chain of n + 2 nodes. */
function chain(n: number, color = 0, firstId = 100): ApiPrompt {
  const p: ApiPrompt = {
    '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color } },
  };
  let up = '1';
  for (let i = 0; i < n; i++) {
    const id = String(firstId + i);
    p[id] = { class_type: 'ImageInvert', inputs: { image: [up, 0] } };
    up = id;
  }
  p['2'] = { class_type: 'SaveImage', inputs: { images: [up, 0], filename_prefix: 'x' } };
  return p;
}

test('cache keys stay short down a long chain', () => {
  const sigs = signatures(chain(500));
  assert.equal(sigs.size, 502);
  for (const sig of sigs.values()) assert.ok(sig.length < 100, `a key of ${sig.length} characters`);
});

test('equal subgraphs share keys whatever their node ids; a change upstream changes every key below', () => {
  const a = signatures(chain(5, 0, 100));
  const b = signatures(chain(5, 0, 700));
  assert.equal(a.get('2'), b.get('2'));
  assert.equal(a.get('104'), b.get('704'));
  const c = signatures(chain(5, 1, 100));
  assert.notEqual(a.get('1'), c.get('1'));
  assert.notEqual(a.get('104'), c.get('104'));
  assert.notEqual(a.get('2'), c.get('2'));
  assert.notEqual(a.get('100'), a.get('101'), 'a node differs from its own upstream');
});
