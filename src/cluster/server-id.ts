/**
 * A server's id among the servers of one database: made once and kept in its
 * data folder (which one process holds at a time, data-lock.ts), so that a
 * server restarted on the same folder owns again the workers it drove.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const FILE = 'server-id';

export function serverIdOf(dataDir: string): string {
  const file = join(dataDir, FILE);
  try {
    const id = readFileSync(file, 'utf8').trim();
    if (/^[\w-]{8,64}$/.test(id)) return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const id = randomUUID();
  writeFileSync(file, `${id}\n`, { mode: 0o600 });
  return id;
}
