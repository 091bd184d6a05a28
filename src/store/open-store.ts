/**
 * Opens the configured JobStore, ready to use (migrations applied). The one
 * place that knows every adapter: add a member to StoreConfig and a case below.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../logging/logger.js';
import type { JobStore } from './job-store.js';
import { splitSchema } from './postgres/connection.js';
import { DEFAULT_SCHEMA, PostgresJobStore } from './postgres/postgres-store.js';
import { SqliteJobStore } from './sqlite/sqlite-store.js';
import { openThreadedSqliteStore } from './sqlite/threaded-store.js';

export interface SqliteStoreConfig {
  kind: 'sqlite';
  /** database file; its folder is created when missing. ':memory:' for a throwaway store */
  file: string;
  /** FULL (default) survives power loss; NORMAL only a crash of the process */
  synchronous?: 'FULL' | 'NORMAL';
  /** how long a write waits for another process's lock before STORE_BUSY, in ms (default 5000) */
  busyTimeoutMs?: number;
  /**
   * each connection's page cache, in KiB (default: the driver's, 16,000 KiB); the file's pages
   * stay in the system's cache either way, so a smaller one costs a read call per page missed
   */
  cacheKib?: number;
  /** where the store says that writing stopped (a full disk, a lock) and resumed */
  log?: Logger;
  /**
   * run the database on a thread of its own, off the event loop (default:
   * yes for a file, no for ':memory:'); see sqlite/threaded-store.ts
   */
  thread?: boolean;
}

export interface PostgresStoreConfig {
  kind: 'postgres';
  /** postgres://user:password@host:port/database; `?schema=NAME` picks the schema (default comfy_queue) */
  url: string;
  /** the schema, when not in the URL */
  schema?: string;
  /** connections in the pool (default 10) */
  poolSize?: number;
  /** how long a write waits for another session's lock before STORE_BUSY, in ms (default 5000) */
  busyTimeoutMs?: number;
  log?: Logger;
}

export type StoreConfig = SqliteStoreConfig | PostgresStoreConfig;

/** Whether a --db value names a PostgreSQL database. */
export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}

export async function openStore(config: StoreConfig): Promise<JobStore> {
  switch (config.kind) {
    case 'sqlite': {
      if (config.file !== ':memory:') mkdirSync(dirname(config.file), { recursive: true });
      const options = {
        file: config.file,
        ...(config.synchronous ? { synchronous: config.synchronous } : {}),
        ...(config.busyTimeoutMs !== undefined ? { busyTimeoutMs: config.busyTimeoutMs } : {}),
        ...(config.cacheKib !== undefined ? { cacheKib: config.cacheKib } : {}),
        ...(config.log ? { log: config.log } : {}),
      };
      // A ':memory:' database lives in its connection: it can be threaded too, but gains nothing.
      if (config.thread ?? config.file !== ':memory:') return openThreadedSqliteStore(options);
      const store = new SqliteJobStore(options);
      await store.init();
      return store;
    }
    case 'postgres': {
      const { url, schema } = splitSchema(config.url);
      const store = new PostgresJobStore({
        url,
        schema: schema ?? config.schema ?? DEFAULT_SCHEMA,
        ...(config.poolSize !== undefined ? { poolSize: config.poolSize } : {}),
        ...(config.busyTimeoutMs !== undefined ? { busyTimeoutMs: config.busyTimeoutMs } : {}),
        ...(config.log ? { log: config.log } : {}),
      });
      await store.init();
      return store;
    }
    default:
      return unknownKind(config);
  }
}

function unknownKind(config: never): never {
  throw new Error(`unknown store kind: ${String((config as { kind: unknown }).kind)}`);
}
