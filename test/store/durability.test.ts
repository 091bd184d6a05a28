import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openStore } from '../../src/store/open-store.js';

const fixture = fileURLToPath(new URL('./fixtures/enqueue-forever.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'comfy-queue-durability-'));
after(() => rmSync(dir, { recursive: true, force: true }));

it('keeps every acknowledged enqueue when the process is killed (SIGKILL)', async () => {
  const file = join(dir, 'queue.db');
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  const acked: string[] = [];
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    acked.push(line);
    if (acked.length === 3000) {
      child.kill('SIGKILL');
      break;
    }
  }
  const [code, signal] = await exited;
  assert.equal(signal, 'SIGKILL', `the writer ended by itself (exit code ${code})`);

  const store = await openStore({ kind: 'sqlite', file });
  try {
    const missing = [];
    for (const id of acked) {
      assert.match(id, /^[0-9a-f-]{36}$/);
      if ((await store.get(id))?.status !== 'pending') missing.push(id);
    }
    assert.deepEqual(missing, []);
    assert.ok((await store.counts()).pending >= acked.length);
  } finally {
    await store.close();
  }
});
