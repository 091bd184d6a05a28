/**
 * One fetch of a finished job's file serves every reader of it for a short
 * while. The collector and the thumbnail queue both read each job's image
 * from its worker just after the job ends; without this, the worker answers
 * the same GET /view twice. An entry is kept by job, worker and file (a file
 * name alone may come back for another job after the worker restarts) until
 * every reader has had it, or it is too old, or newer files need the room; a
 * failed fetch is not kept, so the next reader tries again. A later request
 * (a thumbnail asked for again) fetches again, from the worker as it is now.
 */
import type { OutputFileRef } from '../domain/thumbnail-source.js';

export type FetchFile = (worker: string, file: OutputFileRef) => Promise<Buffer>;

export interface RecentFilesOptions {
  /** how many readers take each file: its entry goes after the last (default 2) */
  readers?: number;
  /** bytes kept at most, over all entries (default 16 MiB) */
  maxBytes?: number;
  /** how long a fetched file is served again, ms (default 20 s) */
  ttlMs?: number;
  now(): number;
}

interface Entry {
  bytes: Promise<Buffer>;
  size: number;
  at: number;
  /** readers served so far */
  taken: number;
}

export class RecentFiles {
  /** in fetch order, so that the oldest are first to go */
  private readonly entries = new Map<string, Entry>();
  private total = 0;

  constructor(
    private readonly fetch: FetchFile,
    private readonly opts: RecentFilesOptions,
  ) {}

  /** The file's bytes, fetched once for every reader within the age limit. Readers must not change them. */
  get(jobId: string, worker: string, file: OutputFileRef): Promise<Buffer> {
    this.expire();
    const key = `${jobId}\0${worker}\0${file.type}\0${file.subfolder}\0${file.filename}`;
    const kept = this.entries.get(key);
    if (kept) {
      if (++kept.taken >= this.readers) this.drop(key, kept);
      return kept.bytes;
    }
    if (this.readers <= 1) return this.fetch(worker, file);
    const entry: Entry = { bytes: this.fetch(worker, file), size: 0, at: this.opts.now(), taken: 1 };
    this.entries.set(key, entry);
    entry.bytes.then(
      (buf) => {
        if (this.entries.get(key) !== entry) return;
        entry.size = buf.length;
        this.total += buf.length;
        this.shrink();
      },
      () => {
        // The reader that asked gets the error; the next one fetches again.
        if (this.entries.get(key) === entry) this.entries.delete(key);
      },
    );
    return entry.bytes;
  }

  /** Bytes held now (fetched files not yet expired). */
  get heldBytes(): number {
    return this.total;
  }

  private get readers(): number {
    return this.opts.readers ?? 2;
  }

  private expire(): void {
    const oldest = this.opts.now() - (this.opts.ttlMs ?? 20_000);
    for (const [key, entry] of this.entries) {
      if (entry.at > oldest) break;
      this.drop(key, entry);
    }
  }

  private shrink(): void {
    const max = this.opts.maxBytes ?? 16 * 1024 * 1024;
    for (const [key, entry] of this.entries) {
      if (this.total <= max) break;
      this.drop(key, entry);
    }
  }

  private drop(key: string, entry: Entry): void {
    if (this.entries.get(key) !== entry) return;
    this.entries.delete(key);
    this.total -= entry.size;
  }
}
