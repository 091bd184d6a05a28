import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  EXTENSION_MODULE_PATH,
  mergeExtensionList,
  registerDashboardRoutes,
} from '../../src/api/dashboard-routes.js';
import { startSimulator } from '../../src/sim/index.js';
import { tempDir } from '../helpers/harness.js';

describe('the dashboard and extension files', () => {
  const dir = tempDir();
  let app: FastifyInstance;
  let sim: Awaited<ReturnType<typeof startSimulator>>;

  before(async () => {
    mkdirSync(join(dir.path, 'dashboard/assets'), { recursive: true });
    mkdirSync(join(dir.path, 'extension'), { recursive: true });
    writeFileSync(join(dir.path, 'dashboard/index.html'), '<!doctype html><title>cq</title>');
    writeFileSync(join(dir.path, 'dashboard/assets/app-1.js'), 'export {};');
    writeFileSync(join(dir.path, 'extension/main.js'), 'export {};');
    writeFileSync(join(dir.path, 'secret.txt'), 'no');
    sim = await startSimulator({ port: 0 });
    app = Fastify();
    registerDashboardRoutes(app, { root: dir.path, workers: [{ url: sim.url, state: 'online' }] });
    await app.ready();
  });
  after(async () => {
    await app.close();
    await sim.close();
    dir.remove();
  });

  test('files with their content types; other paths answer the app', async () => {
    const js = await app.inject('/dashboard/assets/app-1.js');
    assert.equal(js.statusCode, 200);
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    assert.match(String(js.headers['cache-control']), /immutable/);
    const deep = await app.inject('/dashboard/history/anything');
    assert.equal(deep.statusCode, 200);
    assert.match(String(deep.headers['content-type']), /^text\/html/);
    assert.equal((await app.inject('/dashboard')).statusCode, 302);
    assert.equal((await app.inject('/dashboard/assets/missing.js')).statusCode, 404);
    const ext = await app.inject(EXTENSION_MODULE_PATH);
    assert.equal(ext.statusCode, 200);
    assert.match(String(ext.headers['content-type']), /^text\/javascript/);
  });

  test('nothing outside the build folder is served', async () => {
    for (const url of [
      '/dashboard/..%2fsecret.txt',
      '/dashboard/%2e%2e/secret.txt',
      '/extensions/comfy-queue/..%2f..%2fsecret.txt',
    ]) {
      const r = await app.inject(url);
      assert.notEqual(r.body, 'no', url);
    }
  });

  test('the /extensions list is the worker’s plus comfy-queue’s module', async () => {
    for (const path of ['/extensions', '/api/extensions']) {
      const r = await app.inject(path);
      assert.equal(r.statusCode, 200);
      assert.deepEqual(r.json(), mergeExtensionList(await (await fetch(`${sim.url}/api/extensions`)).json()));
      assert.ok(r.json().includes(EXTENSION_MODULE_PATH));
    }
    assert.deepEqual(mergeExtensionList(['/extensions/a.js', EXTENSION_MODULE_PATH]), [
      '/extensions/a.js',
      EXTENSION_MODULE_PATH,
    ]);
    assert.deepEqual(mergeExtensionList({ not: 'a list' }), [EXTENSION_MODULE_PATH]);
  });
});
