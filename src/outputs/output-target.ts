/** Where collected files are kept: a folder (folder-target.ts) or an S3 bucket (s3-target.ts). */
import type { Readable } from 'node:stream';

export interface OutputTarget {
  /** as collection records name it: `file:///abs/dir` or `s3://bucket/prefix` */
  readonly name: string;
  /** Gets ready (creates the folder, clears what an interrupted write left); rejects with a one-line reason. */
  init(): Promise<void>;
  /** Stores `body` as `key`, whole or not at all; resolves once it is durable. */
  put(key: string, body: Readable): Promise<{ bytes: number }>;
  /** A stored file, or null when there is none. */
  open(key: string): Promise<{ body: Readable; bytes: number | null } | null>;
}
