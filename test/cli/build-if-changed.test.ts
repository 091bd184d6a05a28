import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ROOT } from '../helpers/harness.js';

const SCRIPT = join(ROOT, 'scripts/build-if-changed.mjs');

describe('npm start builds only when sources changed', () => {
  test('a second run after a build does nothing and says nothing', () => {
    // The test run built dist/ already: recorded as such, the next start has nothing to build.
    const first = spawnSync(process.execPath, [SCRIPT, '--stamp'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(first.status, 0, first.stderr);
    const second = spawnSync(process.execPath, [SCRIPT], { cwd: join(ROOT, 'test'), encoding: 'utf8' });
    assert.equal(second.status, 0, second.stderr);
    assert.equal(second.stdout, '');
  });
});
