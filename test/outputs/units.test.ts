import assert from 'node:assert/strict';
import { test } from 'node:test';
import { retryDelay } from '../../src/outputs/backoff.js';
import { collectKey, extensionOf, safeSegment } from '../../src/outputs/collect-key.js';
import { parseCollect } from '../../src/outputs/collect-target.js';
import { collectionJson } from '../../src/outputs/collection-json.js';
import { collectedFiles } from '../../src/outputs/output-files.js';

const created = Date.UTC(2026, 11, 1, 23, 59, 0);
const png = { filename: 'ComfyUI_00001_.png' };

test('a batch item is named <batch>/<index>.<ext>, or <index>_<n> when it has several files', () => {
  const item = { id: 'j1', batchName: 'portraits', index: 42, createdAt: created };
  assert.equal(collectKey(item, png, 1, 1), 'portraits/42.png');
  assert.equal(collectKey(item, { filename: 'clip.MP4' }, 2, 3), 'portraits/42_2.mp4');
  assert.equal(collectKey({ ...item, index: 1 }, png, 1, 1), 'portraits/1.png');
});

test('a job of no batch is named jobs/<day created>/<id>, which no other job shares', () => {
  const job = { id: '0b6f0c1e-1c1d-4a51-9d1a-5b0f6f1f2a3b', createdAt: created };
  assert.equal(collectKey(job, png, 1, 1), `jobs/2026-12-01/${job.id}.png`);
  assert.equal(collectKey(job, png, 3, 4), `jobs/2026-12-01/${job.id}_3.png`);
  assert.equal(
    collectKey({ ...job, batchName: null, index: null }, png, 1, 1),
    `jobs/2026-12-01/${job.id}.png`,
  );
  const keys = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const other = { id: `job-${i}`, createdAt: created };
    for (let n = 1; n <= 3; n++) keys.add(collectKey(other, png, n, 3));
  }
  assert.equal(keys.size, 150);
});

test('extensions and batch names are made safe for a path', () => {
  assert.equal(extensionOf('a/b/c.WebP'), 'webp');
  assert.equal(extensionOf('noext'), 'bin');
  assert.equal(extensionOf('.hidden'), 'bin');
  assert.equal(extensionOf('x.tar.gz'), 'gz');
  assert.equal(extensionOf('x.p%g'), 'bin');
  assert.equal(safeSegment('../../etc'), '___.._etc');
  assert.equal(safeSegment('a/b'), 'a_b');
  assert.equal(safeSegment('..'), '__');
  assert.equal(safeSegment(''), '_');
  assert.equal(safeSegment('Set 2 (final)'), 'Set 2 _final_');
  const key = collectKey({ id: 'j', batchName: '../up', index: 1, createdAt: 0 }, png, 1, 1);
  assert.ok(!key.split('/').includes('..'), key);
});

test('--collect: folder, off, s3 with the AWS variables; bad values are one clear line', () => {
  const env = { AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK' };
  assert.deepEqual(parseCollect(undefined, {}), { ok: true, target: { kind: 'folder', dir: null } });
  assert.deepEqual(parseCollect('/srv/out', {}), { ok: true, target: { kind: 'folder', dir: '/srv/out' } });
  assert.deepEqual(parseCollect('off', {}), { ok: true, target: { kind: 'off' } });
  assert.deepEqual(parseCollect('s3://renders/studio/run1/', env), {
    ok: true,
    target: {
      kind: 's3',
      bucket: 'renders',
      prefix: 'studio/run1',
      region: 'us-east-1',
      endpoint: null,
      accessKeyId: 'AK',
      secretAccessKey: 'SK',
      sessionToken: null,
    },
  });
  const minio = parseCollect('s3://renders', {
    ...env,
    AWS_REGION: 'eu-central-1',
    AWS_ENDPOINT_URL: 'http://127.0.0.1:9000/',
    AWS_SESSION_TOKEN: 'T',
  });
  assert.ok(minio.ok && minio.target.kind === 's3');
  assert.equal(minio.target.endpoint, 'http://127.0.0.1:9000');
  assert.equal(minio.target.region, 'eu-central-1');
  assert.equal(minio.target.prefix, '');
  assert.equal(minio.target.sessionToken, 'T');
  const s3Endpoint = parseCollect('s3://renders', {
    ...env,
    AWS_ENDPOINT_URL: 'http://a',
    AWS_ENDPOINT_URL_S3: 'http://b',
  });
  assert.ok(s3Endpoint.ok && s3Endpoint.target.kind === 's3' && s3Endpoint.target.endpoint === 'http://b');

  const refused = (raw: string, e: Record<string, string> = env) => {
    const r = parseCollect(raw, e);
    assert.ok(!r.ok, raw);
    assert.ok(!r.error.includes('\n') && r.error.startsWith(`--collect ${raw}: `), r.error);
    return r.error;
  };
  assert.match(refused(''), /give a folder, s3:\/\/bucket\/prefix or off/);
  assert.match(refused('s3://renders', {}), /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
  assert.match(refused('s3://Bad_Bucket'), /not a bucket name/);
  assert.match(refused('s3://'), /not a bucket name/);
  assert.match(refused('s3://renders/a/../b'), /prefix/);
  assert.match(refused('gs://renders'), /only folders and s3:/);
  assert.match(refused('s3://renders', { ...env, AWS_ENDPOINT_URL: 'minio:9000' }), /AWS_ENDPOINT_URL/);
});

test('backoff doubles up to its cap, with at most a quarter more of jitter', () => {
  const rules = { baseMs: 1000, maxMs: 60_000 };
  assert.deepEqual(
    [1, 2, 3, 4].map((n) => retryDelay(n, rules, 0)),
    [1000, 2000, 4000, 8000],
  );
  assert.equal(retryDelay(20, rules, 0), 60_000);
  assert.equal(retryDelay(1000, rules, 0.999), 74_985);
  assert.equal(retryDelay(1, rules, 0.5), 1125);
});

test('the files collected: type output only, each once, in the order of the outputs', () => {
  const outputs = {
    '9': {
      images: [
        { filename: 'a.png', subfolder: 'x', type: 'output' },
        { filename: 'p.png', subfolder: '', type: 'temp' },
      ],
    },
    '12': {
      gifs: [{ filename: 'v.mp4', subfolder: '', type: 'output', format: 'video/h264-mp4' }],
      text: ['hi'],
    },
    '13': { images: [{ filename: 'a.png', subfolder: 'x', type: 'output' }], animated: [false] },
  };
  assert.deepEqual(collectedFiles(outputs), [
    { filename: 'a.png', subfolder: 'x', type: 'output' },
    { filename: 'v.mp4', subfolder: '', type: 'output' },
  ]);
  assert.deepEqual(collectedFiles(null), []);
});

test('the collection field of a job', () => {
  const done = { status: 'completed' as const, endedAt: 500 };
  const on = { since: 100, target: 'file:///out' };
  assert.equal(collectionJson({ status: 'in_progress', endedAt: null }, null, on), null);
  assert.equal(collectionJson({ status: 'failed', endedAt: 500 }, null, on), null);
  assert.deepEqual(collectionJson(done, null, on), {
    state: 'pending',
    target: 'file:///out',
    files: [],
    attempts: 0,
    error: null,
  });
  assert.equal(collectionJson({ ...done, endedAt: 50 }, null, on)?.state, 'off');
  assert.equal(collectionJson(done, null, null)?.state, 'off');
  const rec = {
    jobId: 'j',
    endedAt: 500,
    state: 'stored' as const,
    target: 's3://b/p',
    files: [
      { key: 'jobs/j_1.png', bytes: 10, filename: 'a.png', subfolder: '', type: 'output' },
      { key: 'jobs/j_2.png', bytes: 20, filename: 'b.png', subfolder: '', type: 'output' },
    ],
    attempts: 1,
    error: null,
    updatedAt: 600,
  };
  assert.deepEqual(collectionJson(done, rec, null), {
    state: 'stored',
    target: 's3://b/p',
    files: [
      { n: 1, key: 'jobs/j_1.png', bytes: 10 },
      { n: 2, key: 'jobs/j_2.png', bytes: 20 },
    ],
    attempts: 1,
    error: null,
  });
  // A record of an earlier run of the job is not this run's.
  assert.equal(collectionJson({ ...done, endedAt: 700 }, rec, on)?.state, 'pending');
});

test('S3 addressing: path-style with an endpoint, virtual-hosted on AWS, path-style for dotted buckets', async () => {
  const { S3Client } = await import('../../src/outputs/s3/s3-client.js');
  const base = {
    bucket: 'renders',
    prefix: 'studio/a b',
    region: 'eu-west-1',
    endpoint: null,
    accessKeyId: 'AK',
    secretAccessKey: 'SK',
    sessionToken: null,
  };
  const opts = { now: Date.now, timeoutMs: 1000 };
  assert.equal(
    new S3Client(base, opts).objectUrl('cats/7.png').href,
    'https://renders.s3.eu-west-1.amazonaws.com/studio/a%20b/cats/7.png',
  );
  assert.equal(
    new S3Client({ ...base, bucket: 'my.renders', prefix: '' }, opts).objectUrl('x(1).png').href,
    'https://s3.eu-west-1.amazonaws.com/my.renders/x%281%29.png',
  );
  assert.equal(
    new S3Client({ ...base, endpoint: 'http://127.0.0.1:9000/minio' }, opts).objectUrl('cats/7.png').href,
    'http://127.0.0.1:9000/minio/renders/studio/a%20b/cats/7.png',
  );
});
