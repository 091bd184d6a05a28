import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PromptGraph } from '../../src/domain/job.js';
import { capabilitiesOf, fnv1a64, graphHash, needsOf } from '../../src/farm/capabilities.js';
import { buildObjectInfo, CHECKPOINTS } from '../../src/sim/node-catalog.js';
import { t2iPrompt } from '../helpers/harness.js';

describe('capabilities and needs', () => {
  it("reads node types and models from a worker's object_info", () => {
    const caps = capabilitiesOf(buildObjectInfo(['photo.png']));
    assert.ok(caps.nodeTypes.has('KSampler'));
    assert.ok(caps.nodeTypes.has('LoadImage'));
    for (const c of CHECKPOINTS) assert.ok(caps.models.has(c), c);
    assert.ok(!caps.models.has('photo.png'), 'an input image is not a model');
    assert.ok(caps.outputNodes.has('SaveImage') && caps.outputNodes.has('PreviewImage'));
    assert.ok(!caps.outputNodes.has('KSampler') && !caps.outputNodes.has('LoadImage'));
  });

  it('reads v3 COMBO option lists', () => {
    const caps = capabilitiesOf({
      UNETLoader: { input: { required: { unet_name: ['COMBO', { options: ['flux1-dev.safetensors'] }] } } },
    });
    assert.deepEqual([...caps.models], ['flux1-dev.safetensors']);
  });

  it("lists a job's node types, models, checkpoint and tags", () => {
    const needs = needsOf(t2iPrompt() as unknown as PromptGraph, { tags: ['sdxl', 'sdxl'] });
    assert.deepEqual(needs.nodeTypes, [
      'CLIPTextEncode',
      'CheckpointLoaderSimple',
      'EmptyLatentImage',
      'KSampler',
      'SaveImage',
      'VAEDecode',
    ]);
    assert.deepEqual(needs.models, ['v1-5-pruned-emaonly.safetensors']);
    assert.equal(needs.checkpoint, 'v1-5-pruned-emaonly.safetensors');
    assert.deepEqual(needs.tags, ['sdxl']);
    assert.match(needs.workflowKey, /^graph:[0-9a-f]{16}$/);
  });

  it('keys a workflow by its id when it has one, else by a hash that ignores key order and titles', () => {
    const a = t2iPrompt(2, 1) as unknown as PromptGraph;
    const b = Object.fromEntries(Object.entries(a).reverse()) as PromptGraph;
    b['9'] = { ...b['9']!, _meta: { title: 'Save' } };
    assert.equal(graphHash(a), graphHash(b));
    assert.notEqual(graphHash(a), graphHash(t2iPrompt(2, 2) as unknown as PromptGraph));
    assert.equal(needsOf(a, { workflowId: 'wf-1' }).workflowKey, 'workflow:wf-1');
  });
});

describe('fnv1a64', () => {
  /** The reference: FNV-1a 64 with BigInt, over UTF-16 code units. */
  function reference(text: string): string {
    let h = 0xcbf29ce484222325n;
    for (let i = 0; i < text.length; i++) {
      h ^= BigInt(text.charCodeAt(i));
      h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
    }
    return h.toString(16).padStart(16, '0');
  }

  it('gives the reference hash for any text', () => {
    const texts = ['', 'a', 'foobar', '{"1":{"class_type":"KSampler"}}', 'é漢字🎨\uffff\u0000'];
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 300; i++)
      texts.push(
        Array.from({ length: Math.floor(random() * 200) }, () =>
          String.fromCharCode(Math.floor(random() * (random() < 0.8 ? 128 : 0x10000))),
        ).join(''),
      );
    for (const t of texts) assert.equal(fnv1a64(t), reference(t), JSON.stringify(t));
    assert.equal(fnv1a64('a'), 'af63dc4c8601ec8c', 'the published FNV-1a 64 of "a"');
  });
});
