/**
 * Collected files in a folder. A file is written under `.partial/` (same
 * file system), fsynced, then renamed to its key and the folder fsynced: a
 * crash leaves either the whole file or none, never a part under its name.
 * `.partial/` is emptied at start-up.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import type { OutputTarget } from './output-target.js';

const PARTIAL = '.partial';
const FOLDERS_KEPT = 1_000;

export class FolderTarget implements OutputTarget {
  readonly name: string;
  readonly dir: string;
  /** folders made (or found) already, so that a file does not ask for its folder again */
  private readonly folders = new Set<string>();

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
      // One file handle, written and synced: a write stream and a second open for the
      // fsync cost a millisecond of the event loop per file.
      const fh = await open(temp, 'w');
      let bytes = 0;
      try {
        for await (const chunk of body) bytes += await writeAll(fh, toBuffer(chunk));
        await fh.sync();
      } finally {
        await fh.close();
      }
      const folder = dirname(file);
      if (!this.folders.has(folder)) {
        await mkdir(folder, { recursive: true });
        this.rememberFolder(folder);
      }
      try {
        await rename(temp, file);
      } catch (err) {
        // The folder was removed since (by a person tidying up): make it again, once.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        await mkdir(folder, { recursive: true });
        await rename(temp, file);
      }
      await syncDir(folder);
      return { bytes };
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  private rememberFolder(folder: string): void {
    if (this.folders.size >= FOLDERS_KEPT) this.folders.delete(this.folders.values().next().value as string);
    this.folders.add(folder);
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

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk);
  throw new Error('a collected file must be bytes');
}

/** Writes every byte of `buf` at the handle's position (a write may take only part). */
async function writeAll(fh: FileHandle, buf: Buffer): Promise<number> {
  let done = 0;
  while (done < buf.length) done += (await fh.write(buf, done, buf.length - done)).bytesWritten;
  return buf.length;
}
