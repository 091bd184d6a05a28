import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PromptGraph } from '../../src/domain/job.js';
import {
  excerpt,
  inputImage,
  outputFolder,
  outputFolders,
  promptText,
  seedOf,
  thumbnail,
} from '../../src/domain/job-card.js';

const graph: PromptGraph = {
  '10': { class_type: 'CLIPTextEncode', inputs: { text: 'negative words', clip: ['4', 1] } },
  '2': { class_type: 'CLIPTextEncode', inputs: { text: 'zzz first by id', clip: ['4', 1] } },
  '6': { class_type: 'CLIPTextEncode', inputs: { text: 'the positive one', clip: ['4', 1] } },
  '3': {
    class_type: 'KSampler',
    inputs: { seed: 42, positive: ['6', 0], negative: ['10', 0], model: ['4', 0] },
  },
  '9': { class_type: 'SaveImage', inputs: { filename_prefix: 'a/b/img', images: ['8', 0] } },
  '11': { class_type: 'SaveImage', inputs: { filename_prefix: 'plain', images: ['8', 0] } },
};

test('the prompt text follows the sampler to its positive encoder, else the first encoder by id', () => {
  assert.equal(promptText(graph), 'the positive one');
  const noSampler = { ...graph };
  delete noSampler['3'];
  assert.equal(promptText(noSampler), 'zzz first by id');
  assert.equal(promptText({ '1': { class_type: 'EmptyImage', inputs: {} } }), null);
});

test('excerpts flatten whitespace and cut with an ellipsis', () => {
  assert.equal(excerpt('a\n  b'), 'a b');
  assert.equal(excerpt('x'.repeat(200), 10), `${'x'.repeat(9)}…`);
  assert.equal(excerpt(null), null);
});

test('seed, output folders', () => {
  assert.equal(seedOf(graph), 42);
  assert.equal(seedOf({ '1': { class_type: 'RandomNoise', inputs: { noise_seed: 7 } } }), 7);
  assert.equal(seedOf({ '1': { class_type: 'KSampler', inputs: { seed: ['5', 0] } } }), null);
  assert.equal(outputFolder(graph), 'a/b');
  assert.deepEqual(outputFolders(graph), ['a/b', '']);
  assert.equal(outputFolder({}), null);
});

test('input images: subfolder and annotation', () => {
  const load = (image: string): PromptGraph => ({ '1': { class_type: 'LoadImage', inputs: { image } } });
  assert.deepEqual(inputImage(load('x.png')), { filename: 'x.png', subfolder: '', type: 'input' });
  assert.deepEqual(inputImage(load('s/t/x.png [output]')), {
    filename: 'x.png',
    subfolder: 's/t',
    type: 'output',
  });
  assert.equal(inputImage(graph), null);
});

test('thumbnail: stored outputs, else live outputs, else the input image, else none', () => {
  const prompt: PromptGraph = { '1': { class_type: 'LoadImage', inputs: { image: 'in.png' } } };
  const outputs = { '9': { images: [{ filename: 'o.png', subfolder: 'sub', type: 'output' }] } };
  assert.equal(thumbnail({ prompt, outputs })!.url, '/view?filename=o.png&subfolder=sub&type=output');
  const live = [{ images: [{ filename: 'l.png', subfolder: '', type: 'temp' }] }];
  assert.deepEqual(thumbnail({ prompt, outputs: null }, live), {
    source: 'output',
    filename: 'l.png',
    subfolder: '',
    type: 'temp',
    url: '/view?filename=l.png&subfolder=&type=temp',
  });
  assert.equal(thumbnail({ prompt, outputs: null })!.source, 'input');
  assert.equal(thumbnail({ prompt: graph, outputs: null }), null);
});
