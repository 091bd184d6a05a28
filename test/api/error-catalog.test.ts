import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_CATALOG } from '../../src/domain/errors.js';

test('docs/errors.md lists exactly the codes of the catalog, with the same status and message', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const rows = [...doc.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \| (.+) \|$/gm)].map((m) => [
    m[1],
    Number(m[2]),
    m[3],
  ]);
  const fromCatalog = Object.entries(ERROR_CATALOG).map(([code, e]) => [code, e.status, e.message]);
  assert.deepEqual(
    rows.sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    fromCatalog.sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
  );
});
