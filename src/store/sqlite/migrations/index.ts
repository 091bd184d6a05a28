/**
 * Every migration of the SQLite schema, in order. Migration n (1-based) brings
 * the database to `PRAGMA user_version = n`. Append only.
 */
import { sql as m0001 } from './0001-jobs.js';
import { sql as m0002 } from './0002-job-listing.js';
import { sql as m0003 } from './0003-thumbnails.js';
import { sql as m0004 } from './0004-history-search.js';
import { sql as m0005 } from './0005-farm.js';
import { sql as m0006 } from './0006-agents.js';
import { sql as m0007 } from './0007-batches.js';
import { sql as m0008 } from './0008-collect.js';
import { sql as m0009 } from './0009-batch-counts.js';
import { sql as m0010 } from './0010-finished-sort-indexes.js';

export const MIGRATIONS: readonly string[] = [
  m0001,
  m0002,
  m0003,
  m0004,
  m0005,
  m0006,
  m0007,
  m0008,
  m0009,
  m0010,
];
