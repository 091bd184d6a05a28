/**
 * Applies pending migrations, keyed on `PRAGMA user_version`. Each migration
 * runs in its own IMMEDIATE transaction together with the version bump, so a
 * crash leaves the schema at a whole version and two processes opening the
 * same file at once cannot both apply the same step.
 */
import type Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations/index.js';

function userVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Resolves the schema version reached. */
export function migrate(db: Database.Database, migrations: readonly string[] = MIGRATIONS): number {
  const found = userVersion(db);
  if (found > migrations.length) {
    throw new Error(
      `database schema version ${found} is newer than this comfy-queue knows (${migrations.length})`,
    );
  }
  for (let v = found + 1; v <= migrations.length; v++) {
    const step = db.transaction(() => {
      // Re-read under the write lock: another process may have migrated meanwhile.
      if (userVersion(db) >= v) return;
      db.exec(migrations[v - 1]!);
      db.pragma(`user_version = ${v}`);
    });
    step.immediate();
  }
  return userVersion(db);
}
