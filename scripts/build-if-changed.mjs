#!/usr/bin/env node
// `npm start` builds only when a source changed since the last build: the sizes and modification
// times of every input of `npm run build` are fingerprinted into dist/.build-stamp; the same
// fingerprint and a built CLI mean nothing to do. A second start then costs a few directory reads.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join as joinPath, resolve } from 'node:path';

const INPUTS = ['src', 'web', 'custom-node', 'scripts', 'package.json', 'package-lock.json', 'tsconfig.json'];
const SKIP = new Set(['node_modules', 'dist', '.git']);
const STAMP = 'dist/.build-stamp';

function walk(path, out) {
  let st;
  try {
    st = statSync(path);
  } catch {
    return; // an input this checkout does not have
  }
  if (st.isDirectory()) {
    for (const name of readdirSync(path).sort()) if (!SKIP.has(name)) walk(joinPath(path, name), out);
  } else {
    out.push(`${path}\t${st.size}\t${Math.trunc(st.mtimeMs)}`);
  }
}

export function fingerprint() {
  const lines = [];
  for (const input of INPUTS) walk(input, lines);
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

// Paths are the repository's, wherever npm start was run from.
process.chdir(resolve(dirname(new URL(import.meta.url).pathname), '..'));
const now = fingerprint();
// `--stamp`: the caller just built (npm test does): record it without building again.
if (process.argv.includes('--stamp')) {
  mkdirSync('dist', { recursive: true });
  writeFileSync(STAMP, `${now}\n`);
  process.exit(0);
}
const built = existsSync('dist/cli/main.js') && existsSync('dist/web/dashboard/index.html');
const before = existsSync(STAMP) ? readFileSync(STAMP, 'utf8').trim() : null;
if (built && before === now) process.exit(0);
console.log(built ? 'Sources changed: building…' : 'Building…');
const r = spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
mkdirSync('dist', { recursive: true });
writeFileSync(STAMP, `${now}\n`);
