import assert from 'node:assert/strict';
import { test } from 'node:test';
import { comfyNumber, PRIORITY_SPAN, placementFor } from '../../src/domain/comfy-number.js';
import { normalizeOutputs, outputsSummary } from '../../src/domain/comfy-outputs.js';
import { CursorError, decodeCursor, encodeCursor } from '../../src/domain/cursor.js';
import { invalidReason } from '../../src/engine/revalidate.js';

test('cursor: round trip; malformed, foreign sort or other order refused', () => {
  const c = encodeCursor({ sort: 'created_at', value: 1750000000000, id: 'abc', order: 'desc' });
  assert.deepEqual(decodeCursor(c, ['created_at'], 'desc'), {
    sort: 'created_at',
    value: 1750000000000,
    id: 'abc',
    order: 'desc',
  });
  assert.throws(() => decodeCursor(c, ['created_at'], 'asc'), CursorError);
  assert.throws(() => decodeCursor(c, ['execution_duration'], 'desc'), CursorError);
  for (const bad of [
    '',
    '%%%',
    'bm90IGpzb24',
    Buffer.from('{"s":"created_at","v":"x","id":"a","o":"desc"}').toString('base64url'),
  ]) {
    assert.throws(() => decodeCursor(bad, ['created_at'], 'desc'), CursorError, bad);
  }
});

test('number ↔ priority/position: sorting by number is run order; front and explicit numbers', () => {
  const jobs = [
    { priority: 0, position: 5 },
    { priority: 1, position: 9 },
    { priority: 0, position: -2 },
    { priority: -1, position: 1 },
  ];
  const runOrder = [...jobs].sort((a, b) => b.priority - a.priority || a.position - b.position);
  assert.deepEqual(
    [...jobs].sort((a, b) => comfyNumber(a) - comfyNumber(b)),
    runOrder,
  );
  assert.equal(comfyNumber({ priority: 2, position: 0 }), -2 * PRIORITY_SPAN);
  assert.deepEqual(placementFor({}, 3), { priority: 0, front: false, position: null });
  assert.deepEqual(placementFor({ front: true }, 3), { priority: 3, front: true, position: null });
  assert.deepEqual(placementFor({ front: true }, null), { priority: 0, front: true, position: null });
  assert.deepEqual(placementFor({ number: 4.5, front: true }, 3), {
    priority: 0,
    front: false,
    position: 4.5,
  });
});

test('outputs: 3D strings normalized, text previews truncated, output type preferred', () => {
  const long = 'x'.repeat(2000);
  const outputs = {
    '3': { text: [long] },
    '4': { images: [{ filename: 'a.png', subfolder: '', type: 'temp' }] },
    '5': { '3d': ['mesh.glb'], animated: [true] },
    '6': { images: [{ filename: 'b.png', subfolder: '', type: 'output' }] },
  };
  const s = outputsSummary(outputs);
  assert.equal(s.count, 4);
  assert.deepEqual(s.preview, {
    filename: 'mesh.glb',
    type: 'output',
    subfolder: '',
    mediaType: '3d',
    nodeId: '5',
  });
  const textOnly = outputsSummary({ '3': { text: [long] } });
  assert.equal((textOnly.preview!.content as string).length, 1024);
  assert.equal(textOnly.preview!.truncated, true);
  assert.deepEqual(normalizeOutputs(outputs)['5'], {
    '3d': [{ filename: 'mesh.glb', type: 'output', subfolder: '', mediaType: '3d' }],
    animated: [true],
  });
  assert.deepEqual(outputsSummary(null), { count: 0, preview: null });
});

test('revalidation: invalid only when no known worker accepts the prompt', () => {
  const node = (output: boolean) => ({
    input: { required: {} },
    output: [],
    output_is_list: [],
    output_name: [],
    name: 'n',
    display_name: 'n',
    description: '',
    python_module: 'nodes',
    category: 'x',
    output_node: output,
  });
  const prompt = { '1': { class_type: 'Gone', inputs: {} } };
  const withGone = { Gone: node(true) };
  const without = { Other: node(true) };
  assert.equal(invalidReason(prompt, null, [without, withGone]), null);
  const e = invalidReason(prompt, null, [without]);
  assert.equal(e?.type, 'invalid_job');
  assert.match(e!.message, /Gone/);
});
