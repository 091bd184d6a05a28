/**
 * Opens the configured JobStore, ready to use (migrations applied). The one
 * place that knows every adapter: add a member to StoreConfig and a case below.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../logging/logger.js';
import type { JobStore } from './job-store.js';
import { SqliteJobStore } from './sqlite/sqlite-store.js';

export interface SqliteStoreConfig {
  kind: 'sqlite';
  /** database file; its folder is created when missing. ':memory:' for a throwaway store */
  file: string;
  /** FULL (default) survives power loss; NORMAL only a crash of the process */
  synchronous?: 'FULL' | 'NORMAL';
  /** how long a write waits for another process's lock before STORE_BUSY, in ms (default 5000) */
  busyTimeoutMs?: number;
  /** where the store says that writing stopped (a full disk, a lock) and resumed */
  log?: Logger;
}

export type StoreConfig = SqliteStoreConfig;

export async function openStore(config: StoreConfig): Promise<JobStore> {
  switch (config.kind) {
    case 'sqlite': {
      if (config.file !== ':memory:') mkdirSync(dirname(config.file), { recursive: true });
      const store = new SqliteJobStore({
        file: config.file,
        ...(config.synchronous ? { synchronous: config.synchronous } : {}),
        ...(config.busyTimeoutMs !== undefined ? { busyTimeoutMs: config.busyTimeoutMs } : {}),
        ...(config.log ? { log: config.log } : {}),
      });
      await store.init();
      return store;
    }
    default:
      return unknownKind(config.kind);
  }
}

function unknownKind(kind: never): never {
  throw new Error(`unknown store kind: ${String(kind)}`);
}
