/**
 * Collected files in a folder. A file is written under `.partial/` (same
 * file system), fsynced, then renamed to its key and the folder fsynced: a
 * crash leaves either the whole file or none, never a part under its name.
 * `.partial/` is emptied at start-up.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { OutputTarget } from './output-target.js';

const PARTIAL = '.partial';

export class FolderTarget implements OutputTarget {
  readonly name: string;
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
    this.name = `file://${this.dir}`;
  }

  async init(): Promise<void> {
    try {
      await mkdir(join(this.dir, PARTIAL), { recursive: true });
      for (const left of await readdir(join(this.dir, PARTIAL)))
        await rm(join(this.dir, PARTIAL, left), { force: true });
    } catch (err) {
      throw new Error(`--collect ${this.dir}: the folder cannot be used (${(err as Error).message})`);
    }
  }

  private pathOf(key: string): string {
    const file = resolve(this.dir, key);
    if (!file.startsWith(this.dir + sep) || key.split('/').includes(PARTIAL))
      throw new Error(`key ${key} would leave the collect folder`);
    return file;
  }

  async put(key: string, body: Readable): Promise<{ bytes: number }> {
    const file = this.pathOf(key);
    const temp = join(this.dir, PARTIAL, randomUUID());
    try {
      await pipeline(body, createWriteStream(temp));
      const fh = await open(temp, 'r+');
      let bytes: number;
      try {
        await fh.sync();
        bytes = (await fh.stat()).size;
      } finally {
        await fh.close();
      }
      await mkdir(dirname(file), { recursive: true });
      await rename(temp, file);
      await syncDir(dirname(file));
      return { bytes };
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  async open(key: string): Promise<{ body: Readable; bytes: number | null } | null> {
    const file = this.pathOf(key);
    let size: number;
    try {
      size = (await stat(file)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    return { body: createReadStream(file), bytes: size };
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
