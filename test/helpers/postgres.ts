/**
 * The PostgreSQL the store tests run on: COMFY_QUEUE_TEST_PG, by default
 * postgres://postgres@127.0.0.1:5432/test (`bash .ci/run` starts the local
 * server). Each test file works in schemas of its own, named after the file
 * and the process, and drops them when it ends. A server that does not answer
 * fails the tests with a message that says so; they are never skipped.
 */
import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import pg from 'pg';
import type { JobStore } from '../../src/store/job-store.js';
import { openStore } from '../../src/store/open-store.js';

export const TEST_PG_URL = process.env.COMFY_QUEUE_TEST_PG || 'postgres://postgres@127.0.0.1:5432/test';

let checked: Promise<void> | null = null;

/** Rejects with a clear message when the test database does not answer. */
export function requirePostgres(): Promise<void> {
  checked ??= (async () => {
    const connect = () => new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 5_000 });
    let client = connect();
    try {
      try {
        await client.connect();
      } catch (err) {
        // A fresh server without the test database: create it once.
        if ((err as { code?: string }).code !== '3D000') throw err;
        await createDatabase();
        client = connect();
        await client.connect();
      }
      await client.query('SELECT 1');
    } catch (err) {
      throw new Error(
        `PostgreSQL is not answering at ${TEST_PG_URL} (${(err as Error).message}). The PostgreSQL store tests need it: start the local server (bash .ci/run does) or point COMFY_QUEUE_TEST_PG at one.`,
      );
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return checked;
}

async function createDatabase(): Promise<void> {
  const url = new URL(TEST_PG_URL);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 5_000 });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
  } catch (err) {
    // Another test file created it at the same moment.
    if ((err as { code?: string }).code !== '42P04') throw err;
  } finally {
    await admin.end();
  }
}

/** A client on the test database for a test's own SQL (locks, pg_terminate_backend); ended by the caller. */
export async function adminClient(): Promise<pg.Client> {
  await requirePostgres();
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  return client;
}

const created = new Set<string>();
let n = 0;

// Registered when the file is loaded, so that it runs once, after every test of the file.
after(async () => {
  if (created.size === 0) return;
  const client = await adminClient();
  try {
    for (const s of created) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  } finally {
    await client.end();
  }
});

/** A schema name of its own for this test file, dropped (with everything in it) when the file ends. */
export function freshSchema(label: string): string {
  const schema = `t_${label.replace(/\W/g, '_')}_${process.pid}_${randomBytes(3).toString('hex')}_${n++}`;
  created.add(schema);
  return schema;
}

/** A PostgreSQL store in `schema` (a fresh one unless given). */
export async function openPgStore(
  schema: string,
  over: { busyTimeoutMs?: number; poolSize?: number } = {},
): Promise<JobStore> {
  await requirePostgres();
  return openStore({ kind: 'postgres', url: TEST_PG_URL, schema, ...over });
}
