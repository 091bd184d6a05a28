import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodePreviewFrame, previewFromWorker } from '../../src/api/preview-frame.js';
import {
  decodeBinaryFrame,
  encodePreviewImage,
  encodePreviewWithMetadata,
} from '../../src/comfy/binary-frames.js';

const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 9, 9]);

test('a type-1 preview is tagged with its job, worker and the running node', () => {
  const out = previewFromWorker(
    decodeBinaryFrame(encodePreviewImage('image/jpeg', JPEG)),
    'job-1',
    'w2',
    '3',
  )!;
  const d = decodePreviewFrame(out)!;
  assert.deepEqual(d.meta, {
    job_id: 'job-1',
    prompt_id: 'job-1',
    worker: 'w2',
    node_id: '3',
    display_node_id: '3',
    image_type: 'image/jpeg',
  });
  assert.deepEqual(d.image, JPEG);
  // ComfyUI's own decoder reads it as a type-4 frame.
  const comfy = decodeBinaryFrame(out)!;
  assert.equal(comfy.type, 4);
});

test('a type-4 preview keeps its node and the image type its bytes show', () => {
  const frame = encodePreviewWithMetadata(
    {
      node_id: '12.0.3',
      prompt_id: 'job-2',
      display_node_id: '12',
      parent_node_id: null,
      real_node_id: '12',
      image_type: 'image/jpeg',
    },
    PNG,
  );
  const d = decodePreviewFrame(previewFromWorker(decodeBinaryFrame(frame), 'job-2', 'w1', null)!)!;
  assert.equal(d.meta.node_id, '12.0.3');
  assert.equal(d.meta.display_node_id, '12');
  assert.equal(d.meta.image_type, 'image/png');
});

test('frames that carry no image are not previews', () => {
  assert.equal(previewFromWorker(null, 'j', 'w1', null), null);
  const text = Buffer.concat([Buffer.from([0, 0, 0, 3, 0, 0, 0, 1]), Buffer.from('1hello')]);
  assert.equal(previewFromWorker(decodeBinaryFrame(text), 'j', 'w1', null), null);
  assert.equal(decodePreviewFrame(Buffer.from([0, 0, 0, 1])), null);
});
