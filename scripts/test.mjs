#!/usr/bin/env node
// Runs every test file under test/ with node's test runner. Node 20 does not
// discover .ts files by itself, so the files are listed here.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const filter = process.argv.slice(2);
const files = walk('test').filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)));
// Type-check everything (tests and benchmarks too), then build dist/ for the tests that spawn the CLI.
for (const project of ['tsconfig.test.json', 'tsconfig.json', 'web/tsconfig.json']) {
  const r = spawnSync('npx', ['tsc', '-p', project], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
// The dashboard and the ComfyUI extension (dist/web), for the browser tests under test/web.
const web = spawnSync('npm', ['run', 'build:web', '--silent'], { stdio: 'inherit' });
if (web.status !== 0) process.exit(web.status ?? 1);
// That was `npm run build`: a later `npm start` (and the test of it) need not build again.
spawnSync(process.execPath, ['scripts/build-if-changed.mjs', '--stamp'], { stdio: 'inherit' });
const res = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=300000', ...files],
  { stdio: 'inherit' },
);
process.exit(res.status ?? 1);
