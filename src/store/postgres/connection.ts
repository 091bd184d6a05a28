/**
 * The connection pool of the PostgreSQL store: every connection works in
 * the store's schema, waits at most `busyTimeoutMs` for a lock (then the
 * write is refused with STORE_BUSY instead of hanging) and reads bigint
 * columns as numbers (times in ms and counts stay far below 2^53).
 */
import { createRequire } from 'node:module';
import type pg from 'pg';
import { quoteIdent } from './migrate.js';

// Loaded at the first connection: a server on SQLite never pays for it at start.
const requireLazily = createRequire(import.meta.url);
let pgModule: typeof pg | null = null;
const pgLib = (): typeof pg => {
  pgModule ??= requireLazily('pg') as typeof pg;
  return pgModule;
};

export interface PoolOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  /** the schema the store's tables live in (created when missing) */
  schema: string;
  /** connections at most */
  max: number;
  /** how long a statement waits for a lock before it is refused, ms */
  busyTimeoutMs: number;
  /** shown in pg_stat_activity */
  applicationName: string;
}

const INT8_OID = 20;

const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (v: string) => Number(v)
      : pgLib().types.getTypeParser(oid, format ?? 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

function clientConfig(o: Omit<PoolOptions, 'max'>): pg.ClientConfig {
  return {
    connectionString: o.url,
    application_name: o.applicationName,
    // search_path names the schema, quoted; lock_timeout 0 would mean "wait forever".
    options: `-c search_path=${quoteIdent(o.schema).replaceAll(' ', '\\ ')} -c lock_timeout=${Math.max(1, o.busyTimeoutMs)}`,
    connectionTimeoutMillis: 10_000,
    types,
  };
}

export function createPool(o: PoolOptions): pg.Pool {
  return new (pgLib().Pool)({ ...clientConfig(o), max: o.max, idleTimeoutMillis: 30_000 });
}

/**
 * A connection of its own, outside the pool, for a session advisory lock held
 * while other work runs on the pool (the server lock, a sweep): a small pool
 * can then never be used up by lock holders.
 */
export async function connectSession(o: Omit<PoolOptions, 'max'>): Promise<pg.Client> {
  const client = new (pgLib().Client)(clientConfig(o));
  await client.connect();
  return client;
}

/** A schema name from a database URL's `?schema=` (default `comfy_queue`), and the URL without it. */
export function splitSchema(url: string): { url: string; schema: string | null } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { url, schema: null };
  }
  const schema = parsed.searchParams.get('schema');
  if (schema === null) return { url, schema: null };
  parsed.searchParams.delete('schema');
  return { url: parsed.toString(), schema };
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}
