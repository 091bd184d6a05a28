/**
 * The SQLite store with its writes on a thread of its own (store-thread.ts),
 * behind the same JobStore interface. better-sqlite3 is synchronous, so in
 * the server's thread each commit's fsync stopped the event loop (requests,
 * progress pushes, the workers' websockets); here a write is posted to the
 * thread by name and the server goes on, and the writes that pile up during
 * one commit share the next.
 *
 * Reads stay here, on a read-only connection of their own: a read is quick
 * and never waits for a disk flush, and WAL lets it run beside the writer's
 * commit. A write resolves only once committed, so a read after it sees it.
 * A batch template cached by the reader is dropped when a write renames or
 * deletes the batch.
 *
 * What a function argument cannot do across threads: `runExclusive` runs its
 * function here (one process holds a SQLite store, so it is always
 * exclusive), and `rerunBatchItems` makes its new ids with randomUUID in the
 * thread, as the server does.
 */
import { Worker } from 'node:worker_threads';
import { errMessage, type Logger, silentLogger } from '../../logging/logger.js';
import type { JobStore, StoreHealth } from '../job-store.js';
import { SqliteJobStore, type SqliteStoreOptions } from './sqlite-store.js';
import { type FromThread, revive, type ToThread, unpackError } from './thread-protocol.js';

const LEVELS: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

/** The store thread's young generation, MB (semi-spaces of a third each). */
const THREAD_YOUNG_GENERATION_MB = 6;

/** Methods answered here rather than sent to the thread. */
const LOCAL = new Set(['constructor', 'init', 'close', 'health', 'runExclusive', 'forgetBatch']);

/**
 * Methods that only read: answered by the reader. A read missing here is
 * still right, only slower (it goes to the thread).
 */
const READS = new Set([
  'get',
  'getMany',
  'listPending',
  'scanPending',
  'listInProgress',
  'counts',
  'listWorkers',
  'workerTotals',
  'listJobs',
  'workerForFile',
  'jobForFile',
  'getThumbnail',
  'withThumbnails',
  'thumbnailTotals',
  'getSetting',
  'getBatch',
  'listBatches',
  'batchCounts',
  'batchFinishedSince',
  'batchFinishedBuckets',
  'batchJobIds',
  'batchItem',
  'listBatchItems',
  'trackerCounts',
  'finishedPerMinute',
  'listUncollected',
  'getCollections',
  'listEnrollments',
  'enrollmentForCredential',
]);

/** Writes after which the reader's cached template of the batch (the first argument) is stale. */
const BATCH_CHANGES = new Set(['updateBatch', 'deleteBatch']);

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

/** Opens the store on its own thread; resolves once its database is open and migrated. */
export async function openThreadedSqliteStore(options: SqliteStoreOptions): Promise<JobStore> {
  const { log = silentLogger, ...data } = options;
  const worker = startThread(data);
  const store = new ThreadedSqliteStore(worker, log);
  await store.ready;
  // The thread has migrated the database; the reader opens it as it is.
  const reader = new SqliteJobStore({ ...data, readOnly: true, log });
  try {
    await reader.init();
  } catch (err) {
    await store.close();
    throw err;
  }
  store.attach(reader);
  return store as unknown as JobStore;
}

/**
 * The thread, from the built JavaScript; under tsx (tests, benchmarks) from
 * the TypeScript source, with tsx registered in the thread first: Node 20
 * does not run the parent's `--import` hooks in a worker.
 */
function startThread(data: Omit<SqliteStoreOptions, 'log'>): Worker {
  // The thread's garbage is short-lived rows and messages: a small young generation holds
  // it (V8's default lets it grow to tens of MB of resident memory for nothing).
  const resourceLimits = { maxYoungGenerationSizeMb: THREAD_YOUNG_GENERATION_MB };
  if (!import.meta.url.endsWith('.ts')) {
    return new Worker(new URL('./store-thread.js', import.meta.url), { workerData: data, resourceLimits });
  }
  const entry = new URL('./store-thread.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, workerData: data, resourceLimits });
}

class ThreadedSqliteStore {
  readonly ready: Promise<void>;
  private readonly waiting = new Map<number, Pending>();
  private nextId = 1;
  private current: StoreHealth = { state: 'ok', message: null, since: null };
  private stopped: Error | null = null;
  private exited: Promise<void>;
  private reader: SqliteJobStore | null = null;

  constructor(
    private readonly worker: Worker,
    private readonly log: Logger,
  ) {
    let started: () => void = () => {};
    let notStarted: (err: Error) => void = () => {};
    this.ready = new Promise<void>((resolve, reject) => {
      started = resolve;
      notStarted = reject;
    });
    this.exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (m: FromThread) => {
      switch (m.kind) {
        case 'ready':
          this.idleOrBusy();
          started();
          return;
        case 'failed':
          notStarted(unpackError(m.error));
          return;
        case 'log':
          this.relayLog(m.line);
          return;
        case 'answer': {
          const p = this.waiting.get(m.id);
          if (!p) return;
          this.waiting.delete(m.id);
          this.current = m.health;
          this.idleOrBusy();
          if (m.ok) p.resolve(revive(m.value));
          else p.reject(unpackError(m.error));
        }
      }
    });
    worker.on('error', (err) => {
      notStarted(err);
      this.stop(err);
    });
    worker.once('exit', (code) => {
      const err = new Error(`the store's thread stopped (exit code ${code})`);
      notStarted(err);
      this.stop(err);
    });
  }

  /** Answers reads from `reader`, and sends every other method to the thread. */
  attach(reader: SqliteJobStore): void {
    this.reader = reader;
    const proto = SqliteJobStore.prototype as unknown as Record<string, unknown>;
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (LOCAL.has(name)) continue;
      const d = Object.getOwnPropertyDescriptor(proto, name);
      if (typeof d?.value !== 'function') continue;
      let value: (...args: unknown[]) => unknown;
      if (READS.has(name)) {
        const read = d.value as (...args: unknown[]) => unknown;
        value = (...args) => read.apply(reader, args);
      } else if (BATCH_CHANGES.has(name)) {
        value = async (...args) => {
          try {
            return await this.call(name, args);
          } finally {
            reader.forgetBatch(args[0] as number);
          }
        };
      } else {
        value = (...args) => this.call(name, args);
      }
      // Writable and configurable, as a method on a class is: callers may wrap it.
      Object.defineProperty(this, name, { value, writable: true, configurable: true });
    }
  }

  forgetBatch(id: number): void {
    this.reader?.forgetBatch(id);
    this.call('forgetBatch', [id]).catch((err) =>
      this.log.warn({ err }, `the store's thread did not drop batch ${id}: ${errMessage(err)}`),
    );
  }

  health(): StoreHealth {
    if (this.stopped) return { state: 'unavailable', message: this.stopped.message, since: null };
    return { ...this.current };
  }

  async runExclusive<T>(_name: string, fn: () => Promise<T>): Promise<T | null> {
    return fn();
  }

  async init(): Promise<void> {
    await this.ready;
  }

  async close(): Promise<void> {
    await this.reader?.close();
    this.reader = null;
    if (this.stopped) return;
    try {
      await this.send({ kind: 'close', id: this.nextId++ });
    } finally {
      this.worker.ref(); // until it has exited
      await this.exited;
    }
  }

  private call(method: string, args: unknown[]): Promise<unknown> {
    // A function cannot cross to the thread: the thread supplies its own (store-thread.ts LOCAL_ARGS).
    const sendable = args.map((a) => (typeof a === 'function' ? undefined : a));
    return this.send({ kind: 'call', id: this.nextId++, method, args: sendable });
  }

  private send(m: ToThread): Promise<unknown> {
    if (this.stopped) return Promise.reject(this.stopped);
    return new Promise((resolve, reject) => {
      this.waiting.set(m.id, { resolve, reject });
      try {
        this.worker.postMessage(m);
      } catch (err) {
        // An argument that cannot be cloned: nothing was sent.
        this.waiting.delete(m.id);
        reject(err);
      }
      this.idleOrBusy();
    });
  }

  /** The thread keeps the process alive only while an answer is awaited. */
  private idleOrBusy(): void {
    if (this.waiting.size > 0) this.worker.ref();
    else this.worker.unref();
  }

  private stop(err: Error): void {
    if (this.stopped) return;
    this.stopped = err;
    for (const p of this.waiting.values()) p.reject(err);
    this.waiting.clear();
    if (!/exit code 0\)/.test(err.message))
      this.log.error({ err }, `the store's thread failed: ${errMessage(err)}`);
  }

  private relayLog(line: string): void {
    try {
      const { level, msg, time: _time, ...fields } = JSON.parse(line) as Record<string, unknown>;
      const name = LEVELS[level as number] ?? 'info';
      this.log[name](fields, typeof msg === 'string' ? msg : '');
    } catch (err) {
      this.log.warn(`an unreadable log line from the store's thread: ${errMessage(err)}`);
    }
  }
}
