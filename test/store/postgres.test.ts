import type { JobStore } from '../../src/store/job-store.js';
import { adminClient, freshSchema, openPgStore } from '../helpers/postgres.js';
import { runStoreConformance } from './conformance.js';

const schemas = new WeakMap<JobStore, string>();

async function open(schema: string): Promise<JobStore> {
  // A short wait for locks, so that the lock cases answer STORE_BUSY quickly.
  const store = await openPgStore(schema, { busyTimeoutMs: 100 });
  schemas.set(store, schema);
  return store;
}

runStoreConformance('postgres', () => open(freshSchema('conformance')), {
  // Each run opens a store in a schema of its own (a migration, ~0.2 s): fewer runs than on SQLite.
  numRuns: 15,
  // Appended jobs take the next value of a sequence, which never goes back.
  append: 'sequence',
  openAgain: (store) => open(schemas.get(store)!),
  holdWriteLock: async (store) => {
    // Another session takes the tables as a backup or a migration by hand would: reads go on, writes wait.
    const other = await adminClient();
    await other.query(`SET search_path = "${schemas.get(store)!}"`);
    await other.query('BEGIN');
    await other.query('LOCK TABLE jobs, settings, workers, thumbnails IN EXCLUSIVE MODE');
    return async () => {
      await other.query('COMMIT');
      await other.end();
    };
  },
});
