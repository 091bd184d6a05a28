import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import S3rver from 's3rver';
import type { S3Settings } from '../../src/outputs/collect-target.js';
import { S3Client } from '../../src/outputs/s3/s3-client.js';
import { type RunningSimulator, startSimulator } from '../../src/sim/index.js';
import { http, startTestServer, t2iPrompt, tempDir, until, waitForStatus } from '../helpers/harness.js';
import { type S3Front, startS3Front } from '../helpers/s3-front.js';

const KEY_ID = 'AKIDCOLLECTTEST';
const SECRET = 'test/secret+with=odd/chars';
const REGION = 'eu-west-1';

function twoImages(seed: number): Record<string, unknown> {
  const p = t2iPrompt(1, seed, 'shot') as Record<string, { inputs: Record<string, unknown> }>;
  p['5']!.inputs.batch_size = 2;
  return p;
}

async function viewBytes(simUrl: string, f: { filename: string; subfolder: string; type: string }) {
  const res = await fetch(`${simUrl}/view?${new URLSearchParams(f)}`);
  assert.equal(res.status, 200);
  return Buffer.from(await res.arrayBuffer());
}

function outputFiles(job: {
  outputs: Record<string, { images?: { filename: string; subfolder: string; type: string }[] }>;
}) {
  return Object.values(job.outputs)
    .flatMap((n) => n.images ?? [])
    .filter((f) => f.type === 'output');
}

describe('outputs uploaded to an S3-protocol server', () => {
  const dirs: { remove(): void }[] = [];
  let s3: S3rver;
  let s3Url: string;
  let front: S3Front;
  let sim: RunningSimulator;
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let settings: S3Settings;

  /** The object as s3rver holds it (read directly, not through comfy-queue), or null. */
  async function object(key: string): Promise<Buffer | null> {
    const res = await fetch(
      `${s3Url}/renders/studio/run1/${key.split('/').map(encodeURIComponent).join('/')}`,
    );
    if (res.status === 404) return null;
    assert.equal(res.status, 200, key);
    return Buffer.from(await res.arrayBuffer());
  }

  async function collection(id: string) {
    return (await http('GET', `${server.url}/api/pqueue/jobs/${id}`)).body;
  }

  before(async () => {
    const store = tempDir('cq-s3rver-');
    dirs.push(store);
    s3 = new S3rver({
      address: '127.0.0.1',
      port: 0,
      silent: true,
      directory: store.path,
      configureBuckets: [{ name: 'renders' }],
    });
    const addr = await s3.run();
    s3Url = `http://127.0.0.1:${addr.port}`;
    front = await startS3Front(s3Url, { [KEY_ID]: SECRET }, REGION);
    sim = await startSimulator({ port: 0, stepMs: 1 });
    settings = {
      bucket: 'renders',
      prefix: 'studio/run1',
      region: REGION,
      endpoint: front.url,
      accessKeyId: KEY_ID,
      secretAccessKey: SECRET,
      sessionToken: null,
    };
    server = await startTestServer({
      comfyUrls: [sim.url],
      collect: { kind: 's3', ...settings },
      collectTuning: { backoff: { baseMs: 50, maxMs: 400 }, timeoutMs: 5_000 },
    });
  });

  after(async () => {
    await server?.close();
    await sim?.close();
    await front?.close();
    await s3?.close();
    for (const d of dirs) d.remove();
    if (server) rmSync(server.dataDir, { recursive: true, force: true });
  });

  test('each file is uploaded under its key, signed, byte for byte, and served back from the bucket', async () => {
    const r = await http('POST', `${server.url}/api/pqueue/jobs`, { prompt: twoImages(1) });
    assert.equal(r.status, 201, r.text);
    const id = r.body.prompt_id;
    const job = await until(async () => {
      const j = await collection(id);
      return j.collection?.state === 'stored' ? j : undefined;
    }, 'the upload');
    const day = new Date(job.created_at).toISOString().slice(0, 10);
    assert.equal(job.collection.target, 's3://renders/studio/run1');
    assert.deepEqual(
      job.collection.files.map((f: { key: string }) => f.key),
      [`jobs/${day}/${id}_1.png`, `jobs/${day}/${id}_2.png`],
    );
    for (const [i, f] of outputFiles(job).entries()) {
      const want = await viewBytes(sim.url, f);
      assert.deepEqual(await object(job.collection.files[i].key), want);
      const served = await fetch(`${server.url}/api/pqueue/jobs/${id}/outputs/${i + 1}`);
      assert.equal(served.status, 200);
      assert.equal(served.headers.get('content-type'), 'image/png');
      assert.deepEqual(Buffer.from(await served.arrayBuffer()), want);
    }
    assert.ok(front.verified >= 4, `${front.verified} signed requests checked`);
    assert.deepEqual(front.refused, []);
  });

  test('a request signed with another secret is refused (the check can fail)', async () => {
    const wrong = new S3Client(
      { ...settings, secretAccessKey: 'not-the-secret' },
      { now: Date.now, timeoutMs: 5_000 },
    );
    await assert.rejects(
      wrong.get('anything'),
      (err: Error & { code?: string }) => err.code === 'SignatureDoesNotMatch',
    );
    assert.deepEqual(front.refused, ['SignatureDoesNotMatch']);
    front.refused.length = 0;
  });

  test('the server down for a while: nothing is stored until it is back, then every upload resumes', async () => {
    await front.stop();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await http('POST', `${server.url}/api/pqueue/jobs`, { prompt: twoImages(10 + i) });
      ids.push(r.body.prompt_id);
    }
    for (const id of ids) await waitForStatus(server.url, id, ['completed']);
    // Tried again and again with the backoff, each failure recorded on the job it was trying.
    const tried = await until(async () => {
      for (const id of ids) {
        const j = await collection(id);
        if (j.collection.attempts >= 3) return j;
      }
      return undefined;
    }, 'three failed uploads of one job');
    assert.equal(tried.collection.state, 'pending');
    assert.match(tried.collection.error, /ECONNREFUSED|Unreachable/);
    for (const id of ids) {
      const j = await collection(id);
      assert.equal(j.collection.state, 'pending', id);
      assert.deepEqual(j.collection.files, []);
      const day = new Date(j.created_at).toISOString().slice(0, 10);
      assert.equal(await object(`jobs/${day}/${id}_1.png`), null);
      const served = await http('GET', `${server.url}/api/pqueue/jobs/${id}/outputs/1`);
      assert.equal(served.body.error.code, 'OUTPUT_NOT_COLLECTED');
    }

    await front.start();
    for (const id of ids) {
      const job = await until(async () => {
        const j = await collection(id);
        return j.collection.state === 'stored' ? j : undefined;
      }, `the upload of ${id} once the server is back`);
      assert.equal(job.collection.error, null);
      for (const [i, f] of outputFiles(job).entries()) {
        assert.deepEqual(await object(job.collection.files[i].key), await viewBytes(sim.url, f));
      }
    }
    assert.deepEqual(front.refused, []);
  });
});
