/**
 * The folder target on a real file system: a file arrives whole under its key
 * or not at all, whatever the stream does.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { FolderTarget } from '../../src/outputs/folder-target.js';
import { tempDir } from '../helpers/harness.js';

const dirs: { path: string; remove(): void }[] = [];
after(() => {
  for (const d of dirs) d.remove();
});

async function target(): Promise<FolderTarget> {
  const dir = tempDir('cq-folder-');
  dirs.push(dir);
  const t = new FolderTarget(dir.path);
  await t.init();
  return t;
}

test('a file streamed in many chunks of every kind is stored whole, with its byte count', async () => {
  const t = await target();
  const parts = [Buffer.from('png'), new Uint8Array([0, 1, 2, 255]), 'tail', Buffer.alloc(200_000, 9)];
  const { bytes } = await t.put('jobs/2026-12-02/a.png', Readable.from(parts));
  const want = Buffer.concat([
    Buffer.from('png'),
    Buffer.from([0, 1, 2, 255]),
    Buffer.from('tail'),
    Buffer.alloc(200_000, 9),
  ]);
  assert.equal(bytes, want.length);
  assert.deepEqual(readFileSync(join(t.dir, 'jobs/2026-12-02/a.png')), want);
  assert.deepEqual(readdirSync(join(t.dir, '.partial')), []);
});

test('a folder removed after its first file is made again for the next', async () => {
  const t = await target();
  await t.put('b/one.png', Readable.from([Buffer.from('1')]));
  rmSync(join(t.dir, 'b'), { recursive: true });
  await t.put('b/two.png', Readable.from([Buffer.from('22')]));
  assert.equal(readFileSync(join(t.dir, 'b/two.png'), 'utf8'), '22');
  assert.equal(existsSync(join(t.dir, 'b/one.png')), false);
});

test('a stream that breaks half-way leaves nothing under the key and nothing half-written', async () => {
  const t = await target();
  async function* breaks() {
    yield Buffer.from('first half');
    throw new Error('connection reset');
  }
  await assert.rejects(t.put('c/broken.png', Readable.from(breaks())), /connection reset/);
  assert.equal(existsSync(join(t.dir, 'c/broken.png')), false);
  assert.deepEqual(readdirSync(join(t.dir, '.partial')), []);
});

test('a key that would leave the folder is refused', async () => {
  const t = await target();
  await assert.rejects(t.put('../outside.png', Readable.from([Buffer.from('x')])), /would leave/);
  await assert.rejects(t.put('a/.partial/x.png', Readable.from([Buffer.from('x')])), /would leave/);
});
