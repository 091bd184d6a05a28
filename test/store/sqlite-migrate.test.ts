import assert from 'node:assert/strict';
import { it } from 'node:test';
import Database from 'better-sqlite3';
import { migrate } from '../../src/store/sqlite/migrate.js';
import { MIGRATIONS } from '../../src/store/sqlite/migrations/index.js';

it('applies every migration once and records the version', () => {
  const db = new Database(':memory:');
  assert.equal(migrate(db), MIGRATIONS.length);
  assert.equal(migrate(db), MIGRATIONS.length);
  const tables = db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`).all();
  assert.deepEqual(
    tables.map((t) => (t as { name: string }).name),
    [
      'agent_enrollments',
      'batches',
      'collections',
      'fair_clock',
      'fair_groups',
      'job_counts',
      'job_files',
      'jobs',
      'jobs_fts',
      'jobs_fts_config',
      'jobs_fts_data',
      'jobs_fts_docsize',
      'jobs_fts_idx',
      'settings',
      'thumbnail_totals',
      'thumbnails',
      'workers',
    ],
  );
  db.close();
});

it('applies only the migrations a database lacks', () => {
  const db = new Database(':memory:');
  migrate(db);
  const next = [...MIGRATIONS, 'CREATE TABLE later_table (x INTEGER)'];
  assert.equal(migrate(db, next), next.length);
  assert.ok(db.prepare(`SELECT 1 FROM sqlite_schema WHERE name = 'later_table'`).get());
  db.close();
});

it('leaves a failed migration unapplied, version included', () => {
  const db = new Database(':memory:');
  migrate(db);
  assert.throws(() => migrate(db, [...MIGRATIONS, 'CREATE TABLE half (x); SELECT * FROM no_such_table']));
  assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
  assert.equal(db.prepare(`SELECT 1 FROM sqlite_schema WHERE name = 'half'`).get(), undefined);
  db.close();
});

it('refuses a database from a newer comfy-queue', () => {
  const db = new Database(':memory:');
  db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
  assert.throws(() => migrate(db), /newer/);
  db.close();
});
