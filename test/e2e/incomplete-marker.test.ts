import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startSimulator } from '../../src/sim/index.js';
import { markerPaths } from '../../src/workers/incomplete-marker.js';
import { http, startTestServer, t2iPrompt, tempDir, until, waitForStatus } from '../helpers/harness.js';

type Sim = Awaited<ReturnType<typeof startSimulator>>;
type Server = Awaited<ReturnType<typeof startTestServer>>;

const out = tempDir('cq-output-');
let sim: Sim;
let server: Server;

before(async () => {
  sim = await startSimulator({ port: 0, stepMs: 10, outputDir: out.path });
  server = await startTestServer({ comfyUrls: [sim.url], comfyOutputDirs: [out.path], workerCapacity: 1 });
});
after(async () => {
  await server.close();
  await sim.close();
  out.remove();
});

test('a running job marks its output folder .incomplete until it ends', async () => {
  const prompt = t2iPrompt(100) as any;
  prompt['9'].inputs.filename_prefix = 'renders/night/cat';
  const r = await http('POST', `${server.url}/api/pqueue/jobs`, { prompt });
  const id: string = r.body.prompt_id;
  const marker = join(out.path, 'renders/night', `.incomplete-${id}`);
  await until(async () => (existsSync(marker) ? true : undefined), 'the marker to appear');
  const job = (await http('GET', `${server.url}/api/pqueue/jobs/${id}`)).body;
  assert.equal(job.status, 'in_progress', 'the marker exists while the job runs');
  const body = JSON.parse(readFileSync(marker, 'utf8'));
  assert.equal(body.prompt_id, id);
  assert.equal(body.worker, 'w1');

  await waitForStatus(server.url, id, ['completed']);
  await until(async () => (existsSync(marker) ? undefined : true), 'the marker to be removed');
  const left = readdirSync(join(out.path, 'renders/night'));
  assert.ok(
    left.some((f) => f.startsWith('cat_') && f.endsWith('.png')),
    `outputs: ${left}`,
  );
  assert.ok(!left.some((f) => f.startsWith('.incomplete-')));
});

test('marker paths stay inside the output folder', () => {
  const job = (prefix: string) => ({
    id: 'j1',
    prompt: { '9': { class_type: 'SaveImage', inputs: { filename_prefix: prefix } } },
  });
  assert.deepEqual(markerPaths('/out', job('a/b/x')), ['/out/a/b/.incomplete-j1']);
  assert.deepEqual(markerPaths('/out', job('x')), ['/out/.incomplete-j1']);
  assert.deepEqual(markerPaths('/out', job('../../etc/x')), []);
});
