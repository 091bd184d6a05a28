import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  crc32,
  encodePng,
  pythonJsonDumps,
  readPngChunks,
  readPngSize,
  readPngText,
} from '../../src/media/png.js';
import { transcriptsDir } from '../fixtures/transcripts.js';

const FIXTURES = join(transcriptsDir(), '/');

const gray = (w: number, h: number) => ({
  width: w,
  height: h,
  channels: 3 as const,
  pixels: Buffer.alloc(w * h * 3, 90),
});

describe('png', () => {
  it('crc32 matches the PNG reference value', () => {
    assert.equal(crc32(Buffer.from('IEND')), 0xae426082);
  });

  it('round-trips tEXt, plain iTXt and compressed iTXt, non-ASCII included', () => {
    const png = encodePng(gray(5, 3), [
      { keyword: 'prompt', text: pythonJsonDumps({ '1': { text: 'café ☃ 😀' } }) },
      { keyword: 'workflow', text: '{"title": "ünïcødé ☃"}' },
      { keyword: 'zipped', text: 'été '.repeat(50), compressed: true },
      { keyword: 'latin', text: 'naïve' },
    ]);
    const chunks = readPngChunks(png)!.map((c) => c.type);
    assert.deepEqual(chunks, ['IHDR', 'tEXt', 'iTXt', 'iTXt', 'tEXt', 'IDAT', 'IEND']);
    const text = readPngText(png);
    assert.equal(text.prompt, '{"1": {"text": "caf\\u00e9 \\u2603 \\ud83d\\ude00"}}');
    assert.deepEqual(JSON.parse(text.prompt!), { '1': { text: 'café ☃ 😀' } });
    assert.equal(text.workflow, '{"title": "ünïcødé ☃"}');
    assert.equal(text.zipped, 'été '.repeat(50));
    assert.equal(text.latin, 'naïve');
    assert.deepEqual(readPngSize(png), { width: 5, height: 3 });
  });

  it('writes JSON the way Python json.dumps does', () => {
    assert.equal(
      pythonJsonDumps({ a: [1, 'x', null, true], b: { c: 'é\n"' } }),
      '{"a": [1, "x", null, true], "b": {"c": "\\u00e9\\n\\""}}',
    );
  });

  it('reads the prompt chunk of a PNG saved by real ComfyUI', () => {
    const png = readFileSync(`${FIXTURES}01_view_output.png`);
    assert.deepEqual(readPngSize(png), { width: 64, height: 64 });
    const text = readPngText(png);
    const sent = JSON.parse(readFileSync(`${FIXTURES}01_post_prompt.json`, 'utf8')).request_body.prompt;
    assert.deepEqual(JSON.parse(text.prompt!), sent);
    assert.equal(text.prompt, pythonJsonDumps(sent));
  });

  it('returns nothing for bytes that are not a PNG', () => {
    assert.deepEqual(readPngText(Buffer.from('GIF89a')), {});
    assert.equal(readPngSize(Buffer.alloc(3)), null);
  });
});
