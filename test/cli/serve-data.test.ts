import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LOCK_FILE } from '../../src/store/data-lock.js';
import { runCli } from '../helpers/cli-run.js';
import { spawnServe, tempDir } from '../helpers/harness.js';

test('a --data that is a file, or lies under one: one line naming the path and why, exit 2', async () => {
  const dir = tempDir();
  try {
    const f = join(dir.path, 'a-file');
    writeFileSync(f, 'not a folder');
    const cases: [string, RegExp][] = [
      [f, /is a file, not a folder/],
      [join(f, 'data'), /a part of the path is a file, not a folder/],
    ];
    for (const [data, why] of cases) {
      const r = await runCli(['serve', '--simulate', '1', '--port', '0', '--data', data]);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.ok(r.stderr.includes(data), r.stderr);
      assert.match(r.stderr, why);
    }
  } finally {
    dir.remove();
  }
});

test('one server per data folder: a second is refused naming the first; after kill -9 of the first a new one starts', async () => {
  const dir = tempDir();
  const first = await spawnServe(['--simulate', '1', '--data', dir.path]);
  try {
    const lock = JSON.parse(readFileSync(join(dir.path, LOCK_FILE), 'utf8'));
    assert.equal(lock.pid, first.proc.pid);
    const second = await runCli(['serve', '--simulate', '1', '--port', '0', '--data', dir.path]);
    assert.equal(second.code, 1);
    assert.match(second.stderr, new RegExp(`in use by comfy-queue process ${first.proc.pid}\\b`));
    assert.ok(second.stderr.includes(join(dir.path, LOCK_FILE)));
    assert.equal(second.stderr.trim().split('\n').length, 1);

    await first.kill('SIGKILL');
    const third = await spawnServe(['--simulate', '1', '--data', dir.path]);
    try {
      const taken = JSON.parse(readFileSync(join(dir.path, LOCK_FILE), 'utf8'));
      assert.equal(taken.pid, third.proc.pid);
    } finally {
      await third.kill('SIGTERM');
    }
    // A server that stops cleanly leaves the folder free.
    assert.throws(() => readFileSync(join(dir.path, LOCK_FILE)), /ENOENT/);
  } finally {
    await first.kill('SIGKILL');
    dir.remove();
  }
});
