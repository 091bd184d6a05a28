/**
 * The SQLite store's page cache: `cacheKib` sets it on the writer and on a
 * read-only connection beside it (`--memory small` gives 4 MB each); without
 * it, the driver's own size stays.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, it } from 'node:test';
import type Database from 'better-sqlite3';
import { SqliteJobStore } from '../../src/store/sqlite/sqlite-store.js';
import { tempDir } from '../helpers/harness.js';

const dir = tempDir('cq-page-cache-');
after(() => dir.remove());

/** The connection's cache_size: negative values are KiB, SQLite's own convention. */
function cacheSize(store: SqliteJobStore): number {
  const db = (store as unknown as { db: Database.Database }).db;
  return db.pragma('cache_size', { simple: true }) as number;
}

it('cacheKib sets the page cache of the writer and of a reader', async () => {
  const file = join(dir.path, 'small.sqlite3');
  const writer = new SqliteJobStore({ file, cacheKib: 4096 });
  await writer.init();
  const reader = new SqliteJobStore({ file, cacheKib: 4096, readOnly: true });
  await reader.init();
  try {
    assert.equal(cacheSize(writer), -4096);
    assert.equal(cacheSize(reader), -4096);
  } finally {
    await reader.close();
    await writer.close();
  }
});

it("without cacheKib the driver's page cache stays", async () => {
  const store = new SqliteJobStore({ file: join(dir.path, 'default.sqlite3') });
  await store.init();
  try {
    assert.equal(cacheSize(store), -16000);
  } finally {
    await store.close();
  }
});
