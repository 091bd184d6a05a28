/**
 * Collected files in an S3 bucket. Each file is first spooled to a local file
 * while its SHA-256 is computed (SigV4 signs the body's hash, and a retried
 * PUT needs the bytes again), then PUT whole: S3 never shows a partial
 * object under its key. The spool folder is emptied at start-up.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Settings } from './collect-target.js';
import { outputContentType } from './content-type.js';
import type { OutputTarget } from './output-target.js';
import { S3Client } from './s3/s3-client.js';

export class S3Target implements OutputTarget {
  readonly name: string;
  private readonly client: S3Client;

  constructor(
    s3: S3Settings,
    private readonly spoolDir: string,
    opts: { now(): number; timeoutMs: number },
  ) {
    this.name = `s3://${s3.bucket}${s3.prefix ? `/${s3.prefix}` : ''}`;
    this.client = new S3Client(s3, opts);
  }

  async init(): Promise<void> {
    try {
      await mkdir(this.spoolDir, { recursive: true });
      for (const left of await readdir(this.spoolDir)) await rm(join(this.spoolDir, left), { force: true });
    } catch (err) {
      throw new Error(
        `--collect ${this.name}: the spool folder ${this.spoolDir} cannot be used (${(err as Error).message})`,
      );
    }
  }

  async put(key: string, body: Readable): Promise<{ bytes: number }> {
    const spool = join(this.spoolDir, randomUUID());
    const hash = createHash('sha256');
    let bytes = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    try {
      await pipeline(body, tap, createWriteStream(spool));
      await this.client.putFile(key, spool, bytes, hash.digest('hex'), outputContentType(key));
      return { bytes };
    } finally {
      await rm(spool, { force: true });
    }
  }

  open(key: string): Promise<{ body: Readable; bytes: number | null } | null> {
    return this.client.get(key);
  }
}
