/**
 * Every migration of the PostgreSQL schema, in order. Migration n (1-based)
 * brings the schema to version n (the `schema_version` table). Append only.
 */
import { sql as m0001 } from './0001-jobs.js';
import { sql as m0002 } from './0002-agents-collect.js';
import { sql as m0003 } from './0003-batches.js';
import { sql as m0004 } from './0004-cluster.js';

export const MIGRATIONS: readonly string[] = [m0001, m0002, m0003, m0004];
