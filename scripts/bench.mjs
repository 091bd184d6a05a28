#!/usr/bin/env node
// Runs the benchmarks (all, or those named: `npm run bench -- enqueue`), each printing its figures.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const names = process.argv.slice(2);
const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const files = readdirSync('bench')
  .filter((f) => f.endsWith('.ts') && !f.startsWith('lib')) // lib*.ts: shared by the benchmarks
  .filter((f) => names.length === 0 || names.some((n) => f.startsWith(n)));
for (const f of files) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', `bench/${f}`], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
