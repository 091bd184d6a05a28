import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorFromExecutionError, errorFromRejection } from '../../src/comfy/outcome.js';
import type { PromptGraph } from '../../src/domain/job.js';
import { errorNodes } from '../../src/domain/job-error-nodes.js';
import { validatePrompt } from '../../src/domain/prompt-graph.js';
import { buildObjectInfo } from '../../src/sim/node-catalog.js';
import { loadTranscriptJson } from '../fixtures/transcripts.js';

const prompt: PromptGraph = {
  '1': { class_type: 'EmptyImage', inputs: { width: 'wide', height: 64, batch_size: 1, color: 0 } },
  '2': {
    class_type: 'LoadImage',
    inputs: { image: 'missing.png' },
    _meta: { title: 'My picture' },
  },
  '3': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'a' } },
  '4': { class_type: 'PreviewImage', inputs: { images: ['2', 0] } },
};

test('a refused prompt lists every node error with its class, title and input', () => {
  const r = validatePrompt(prompt, buildObjectInfo(['a.png']));
  assert.equal(r.ok, false);
  if (r.ok) return;
  const nodes = errorNodes(errorFromRejection(400, r.body), prompt);
  assert.deepEqual(
    nodes.map((n) => [n.node_id, n.class_type, n.title, n.input_name, n.type]),
    [
      ['1', 'EmptyImage', null, 'width', 'invalid_input_type'],
      ['2', 'LoadImage', 'My picture', 'image', 'value_not_in_list'],
    ],
  );
  assert.match(nodes[1]!.details!, /missing\.png/);
});

test('an unknown node type names its node though node_errors is empty', () => {
  const bad = { ...prompt, '5': { class_type: 'Nope', inputs: {}, _meta: { title: 'Mystery' } } };
  const r = validatePrompt(bad, buildObjectInfo([]));
  assert.equal(r.ok, false);
  if (r.ok) return;
  const nodes = errorNodes(errorFromRejection(400, r.body), bad);
  assert.deepEqual(
    nodes.map((n) => [n.node_id, n.class_type, n.title, n.type]),
    [['5', 'Nope', 'Mystery', 'missing_node_type']],
  );
});

test('an execution error names its node and keeps the exception', () => {
  const rec = loadTranscriptJson<{ json: { execution_error: Record<string, unknown> } }>(
    '06_api_job_error.json',
  );
  const error = errorFromExecutionError(rec.json.execution_error);
  const nodes = errorNodes(error, {
    '1': { class_type: 'FakeSampler', inputs: {}, _meta: { title: 'Sampler' } },
  });
  assert.deepEqual(nodes, [
    {
      node_id: '1',
      class_type: 'FakeSampler',
      title: 'Sampler',
      input_name: null,
      type: 'RuntimeError',
      message: 'FakeSampler: deliberate failure at step 3\n',
      details: null,
    },
  ]);
  assert.ok(error.traceback && error.traceback.length > 0);
});

test('no error, no nodes', () => {
  assert.deepEqual(errorNodes(null, prompt), []);
});
