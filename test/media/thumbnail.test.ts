import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { encodePng } from '../../src/media/png.js';
import { PLACEHOLDER_PNG, withTextChunks, workflowTextChunks } from '../../src/media/png-metadata.js';
import { shrinkToPng, THUMBNAIL_MAX, ThumbnailError } from '../../src/media/thumbnail.js';
import { walkPng } from '../helpers/png-walk.js';

const prompt = {
  '6': {
    class_type: 'CLIPTextEncode',
    inputs: { text: 'un chat à Paris, 東京の夜 🐱 "quoted" \\ back', clip: ['4', 1] },
  },
};
const workflow = { id: 'wf-1', nodes: [{ id: 6, type: 'CLIPTextEncode', title: 'Invité ✓' }], extra: {} };

function noise(width: number, height: number): Buffer {
  const pixels = Buffer.alloc(width * height * 3);
  let x = 7;
  for (let i = 0; i < pixels.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    pixels[i] = (i % 3 === 0 ? (i / 3) % width : 0) ^ (x >>> 28);
  }
  return encodePng({ width, height, channels: 3, pixels });
}

describe('thumbnails', () => {
  test('a 1024×768 image shrinks to 256 px on its long side, a few tens of KB', async () => {
    const t = await shrinkToPng(noise(1024, 768));
    assert.equal(t.width, THUMBNAIL_MAX);
    assert.equal(t.height, 192);
    const walked = walkPng(t.png);
    assert.deepEqual([walked.width, walked.height], [256, 192]);
    assert.ok(t.png.length < 80_000, `${t.png.length} bytes`);
  });

  test('a small image is not enlarged; JPEG and WebP inputs are read', async () => {
    assert.equal((await shrinkToPng(noise(40, 30))).width, 40);
    const jpeg = await sharp(noise(600, 600)).jpeg().toBuffer();
    assert.equal((await shrinkToPng(jpeg)).width, 256);
    const webp = await sharp(noise(300, 900)).webp().toBuffer();
    assert.equal((await shrinkToPng(webp)).height, 256);
  });

  test('garbage bytes, a truncated PNG and an empty file are refused with ThumbnailError', async () => {
    for (const bytes of [
      Buffer.from('this is not an image at all'),
      noise(64, 64).subarray(0, 60),
      Buffer.alloc(0),
    ]) {
      await assert.rejects(shrinkToPng(bytes), ThumbnailError);
    }
  });

  test('the served PNG carries prompt and workflow as SaveImage writes them, non-ASCII included', async () => {
    const t = await shrinkToPng(noise(512, 512));
    const served = withTextChunks(t.png, workflowTextChunks({ prompt, workflow, extraData: {} }));
    const walked = walkPng(served);
    assert.deepEqual(walked.chunkTypes.slice(0, 3), ['IHDR', 'tEXt', 'tEXt']);
    assert.deepEqual(JSON.parse(walked.text.prompt!), prompt);
    assert.deepEqual(JSON.parse(walked.text.workflow!), workflow);
    // Python's json.dumps: ASCII only, ", " and ": " separators
    assert.match(walked.text.prompt!, /^[\x20-\x7e]*$/);
    assert.ok(walked.text.prompt!.includes('"class_type": "CLIPTextEncode"'));
    const meta = await sharp(served).metadata();
    assert.equal(meta.format, 'png');
    assert.equal(meta.width, 256);
  });

  test('an API-only job carries its prompt and no workflow; other extra_pnginfo keys follow', () => {
    const chunks = workflowTextChunks({
      prompt,
      workflow: null,
      extraData: { extra_pnginfo: { note: 'x' } },
    });
    assert.deepEqual(
      chunks.map((c) => c.keyword),
      ['prompt', 'note'],
    );
    const walked = walkPng(withTextChunks(PLACEHOLDER_PNG, chunks));
    assert.deepEqual(JSON.parse(walked.text.prompt!), prompt);
    assert.equal(walked.text.workflow, undefined);
  });

  test('the placeholder is a valid small PNG', () => {
    const walked = walkPng(PLACEHOLDER_PNG);
    assert.equal(walked.width, 128);
    assert.ok(PLACEHOLDER_PNG.length < 4_000);
  });
});
