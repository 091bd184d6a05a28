/**
 * The stores that the tests of the JobStore interface run on: SQLite (in
 * memory) and PostgreSQL (a schema of the test file's own, helpers/postgres.ts).
 * A test that needs many empty stores in a row takes a `StoreSeries`: SQLite
 * opens a new one each time; PostgreSQL empties one store through the
 * interface, as opening a schema costs a migration.
 */
import { JOB_STATUSES } from '../../src/domain/job.js';
import type { JobStore } from '../../src/store/job-store.js';
import { openStore } from '../../src/store/open-store.js';
import { freshSchema, openPgStore } from '../helpers/postgres.js';

export interface StoreKind {
  name: 'sqlite' | 'postgres';
  /** a new, empty store; the caller closes it */
  open(): Promise<JobStore>;
  /** empty stores one after the other; `end` closes what is left open */
  series(): StoreSeries;
}

export interface StoreSeries {
  next(): Promise<JobStore>;
  end(): Promise<void>;
}

/** Deletes every job (and so its thumbnail and files) through the interface. */
async function emptied(store: JobStore): Promise<JobStore> {
  const all = await store.listJobs({ limit: null, countTotal: false });
  await store.delete(
    all.jobs.map((j) => j.id),
    JOB_STATUSES,
  );
  return store;
}

export function storeKinds(label: string): StoreKind[] {
  return [
    {
      name: 'sqlite',
      open: () => openStore({ kind: 'sqlite', file: ':memory:' }),
      series() {
        let current: JobStore | null = null;
        return {
          async next() {
            await current?.close();
            current = await openStore({ kind: 'sqlite', file: ':memory:' });
            return current;
          },
          async end() {
            await current?.close();
            current = null;
          },
        };
      },
    },
    {
      name: 'postgres',
      open: () => openPgStore(freshSchema(label)),
      series() {
        let store: Promise<JobStore> | null = null;
        return {
          async next() {
            store ??= openPgStore(freshSchema(label));
            return emptied(await store);
          },
          async end() {
            if (store) await (await store).close();
            store = null;
          },
        };
      },
    },
  ];
}
