import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodePreviewImage, encodePreviewWithMetadata, encodeText } from '../../src/comfy/binary-frames.js';
import { binaryEvents, textEvents } from '../../web/src/extension/comfy-events.js';
import { failureMessage, queuePromptBody } from '../../web/src/extension/queue-body.js';

const arrayBuffer = (b: Buffer): ArrayBuffer =>
  b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);

describe('relayed ComfyUI messages as api events', () => {
  test('status gives its inner status without the relay sid; executing the node to highlight', () => {
    const status = { exec_info: { queue_remaining: 2 } };
    assert.deepEqual(textEvents(JSON.stringify({ type: 'status', data: { status, sid: 'abc' } })), [
      ['status', status],
    ]);
    const executing = (data: unknown) => textEvents(JSON.stringify({ type: 'executing', data }));
    assert.deepEqual(executing({ node: '12.0.0.3', display_node: '12', prompt_id: 'p' }), [
      ['executing', '12'],
    ]);
    assert.deepEqual(executing({ node: '7', prompt_id: 'p' }), [['executing', '7']]);
    assert.deepEqual(executing({ node: null, prompt_id: 'p' }), [['executing', null]]);
  });

  test('execution messages go as they are; others and garbage are dropped', () => {
    const data = { value: 3, max: 20, prompt_id: 'p', node: '3' };
    assert.deepEqual(textEvents(JSON.stringify({ type: 'progress', data })), [['progress', data]]);
    for (const type of [
      'execution_start',
      'execution_cached',
      'executed',
      'execution_success',
      'execution_error',
    ]) {
      assert.equal(textEvents(JSON.stringify({ type, data: { prompt_id: 'p' } }))[0]?.[0], type);
    }
    assert.deepEqual(textEvents(JSON.stringify({ type: 'feature_flags', data: {} })), []);
    assert.deepEqual(textEvents(JSON.stringify({ type: 'crystools.monitor', data: {} })), []);
    assert.deepEqual(textEvents('not json'), []);
    assert.deepEqual(textEvents('{"type":"progress","data":null}'), []);
  });

  test('previews become blobs, with metadata first; progress text and broken frames are dropped', async () => {
    const [legacy] = binaryEvents(arrayBuffer(encodePreviewImage('image/png', JPEG)));
    assert.equal(legacy?.[0], 'b_preview');
    const blob = legacy?.[1] as Blob;
    assert.equal(blob.type, 'image/png');
    assert.deepEqual(Buffer.from(await blob.arrayBuffer()), JPEG);

    const meta = {
      node_id: '3',
      prompt_id: 'p1',
      display_node_id: '3',
      parent_node_id: null,
      real_node_id: '3',
      image_type: 'image/jpeg' as const,
    };
    const events = binaryEvents(arrayBuffer(encodePreviewWithMetadata(meta, JPEG)));
    assert.deepEqual(
      events.map(([type]) => type),
      ['b_preview_with_metadata', 'b_preview'],
    );
    const detail = events[0]?.[1] as { blob: Blob; nodeId: string; promptId: string };
    assert.equal(detail.nodeId, '3');
    assert.equal(detail.promptId, 'p1');
    assert.equal(detail.blob, events[1]?.[1]);
    assert.deepEqual(Buffer.from(await detail.blob.arrayBuffer()), JPEG);

    assert.deepEqual(binaryEvents(arrayBuffer(encodeText('3', 'step 1'))), []);
    const truncated = encodePreviewWithMetadata(meta, JPEG).subarray(0, 20);
    assert.deepEqual(binaryEvents(arrayBuffer(truncated)), []);
    assert.deepEqual(binaryEvents(new ArrayBuffer(4)), []);
  });
});

describe("the POST /prompt body of ComfyUI's queuePrompt", () => {
  const data = { output: { '9': { class_type: 'SaveImage', inputs: {} } }, workflow: { nodes: [] } };

  test('placement: 0 appends, -1 is Queue (Front), any other number is sent as is', () => {
    const plain = queuePromptBody(0, data, undefined, 'cid', {});
    assert.deepEqual(plain, {
      client_id: 'cid',
      prompt: data.output,
      extra_data: { extra_pnginfo: { workflow: data.workflow } },
    });
    assert.equal(queuePromptBody(-1, data, undefined, 'cid', {}).front, true);
    assert.equal('number' in queuePromptBody(-1, data, undefined, 'cid', {}), false);
    assert.equal(queuePromptBody(5, data, undefined, 'cid', {}).number, 5);
  });

  test('options and credentials are passed on as ComfyUI does', () => {
    const body = queuePromptBody(
      0,
      data,
      { partialExecutionTargets: ['12', '7:3'], previewMethod: 'taesd' },
      'cid',
      { authToken: 't', apiKey: 'k' },
    );
    assert.deepEqual(body.partial_execution_targets, ['12', '7:3']);
    assert.deepEqual(body.extra_data, {
      extra_pnginfo: { workflow: data.workflow },
      auth_token_comfy_org: 't',
      api_key_comfy_org: 'k',
      preview_method: 'taesd',
    });
    const dflt = queuePromptBody(0, data, { previewMethod: 'default' }, 'cid', {});
    assert.equal('preview_method' in (dflt.extra_data as object), false);
  });

  test('failure messages from either error shape', () => {
    assert.equal(
      failureMessage(401, { error: { code: 'UNAUTHORIZED', message: 'A valid token is required.' } }),
      'UNAUTHORIZED: A valid token is required.',
    );
    assert.equal(failureMessage(403, { error: 'forbidden' }), 'forbidden');
    assert.equal(failureMessage(502, null), 'HTTP 502');
  });
});
