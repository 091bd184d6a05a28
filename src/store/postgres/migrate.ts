/**
 * Applies pending migrations of the PostgreSQL schema, keyed on the
 * `schema_version` table of the store's schema. The whole run holds a
 * session advisory lock named after the schema: two servers starting at once
 * on a new database never both migrate it; the second waits, then finds
 * nothing left to do. Each step commits together with its version row, so a
 * crash leaves the schema at a whole version.
 */
import type pg from 'pg';
import { MIGRATIONS } from './migrations/index.js';

/** First key of every advisory lock this store takes (the second names what is locked). */
export const LOCK_SPACE = 0x63_71_75_65; // "cque"

export async function currentVersion(client: pg.ClientBase): Promise<number> {
  const r = await client.query<{ v: number | null }>(
    `SELECT CASE WHEN to_regclass('schema_version') IS NULL THEN 0
                 ELSE (SELECT coalesce(max(version), 0) FROM schema_version) END AS v`,
  );
  return Number(r.rows[0]?.v ?? 0);
}

/** Resolves the schema version reached. `schema` names the lock; the client's search_path points at it. */
export async function migrate(
  client: pg.ClientBase,
  schema: string,
  migrations: readonly string[] = MIGRATIONS,
): Promise<number> {
  await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [LOCK_SPACE, `migrate:${schema}`]);
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const found = await currentVersion(client);
    if (found > migrations.length) {
      throw new Error(
        `database schema version ${found} is newer than this comfy-queue knows (${migrations.length})`,
      );
    }
    for (let v = found + 1; v <= migrations.length; v++) {
      await client.query('BEGIN');
      try {
        await client.query(migrations[v - 1]!);
        await client.query('INSERT INTO schema_version (version) VALUES ($1)', [v]);
        await client.query('COMMIT');
      } catch (err) {
        // The migration's error is the one to report; a rollback that fails too (the connection is
        // gone, and the transaction with it) is reported beside it.
        await client.query('ROLLBACK').catch((rollbackErr: unknown) => {
          throw new AggregateError([err, rollbackErr], `migration ${v} failed, and so did its rollback`);
        });
        throw err;
      }
    }
    return await currentVersion(client);
  } finally {
    await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [LOCK_SPACE, `migrate:${schema}`]);
  }
}

/** An identifier quoted for SQL. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
