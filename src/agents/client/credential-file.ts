/** The agent's credential in its data folder (readable by its user only). */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface StoredCredential {
  server: string;
  agent: string;
  credential: string;
}

const FILE = 'credential.json';

export function readCredential(dir: string): StoredCredential | null {
  const file = join(dir, FILE);
  if (!existsSync(file)) return null;
  const c = JSON.parse(readFileSync(file, 'utf8')) as Partial<StoredCredential>;
  if (typeof c.agent !== 'string' || typeof c.credential !== 'string' || typeof c.server !== 'string')
    throw new Error(`${file} is not an agent credential: remove it and enroll again`);
  return c as StoredCredential;
}

export function writeCredential(dir: string, c: StoredCredential): void {
  writeFileSync(join(dir, FILE), JSON.stringify(c, null, 2), { mode: 0o600 });
}
