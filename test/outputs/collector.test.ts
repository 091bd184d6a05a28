import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { after, test } from 'node:test';
import type { Job } from '../../src/domain/job.js';
import { MemoryEventBus } from '../../src/engine/events.js';
import { createLogger } from '../../src/logging/logger.js';
import { OutputCollector } from '../../src/outputs/collector.js';
import { type FileSource, MissingFileError } from '../../src/outputs/file-source.js';
import { FolderTarget } from '../../src/outputs/folder-target.js';
import type { JobStore } from '../../src/store/job-store.js';
import { openStore } from '../../src/store/open-store.js';
import { tempDir, until } from '../helpers/harness.js';

const dirs: { remove(): void }[] = [];
after(() => {
  for (const d of dirs) d.remove();
});

let clock = 1_000;
const image = (filename: string) => ({ filename, subfolder: '', type: 'output' });

async function completedJob(store: JobStore, outputs: Record<string, unknown>): Promise<Job> {
  const id = crypto.randomUUID();
  await store.enqueue([
    {
      id,
      name: null,
      prompt: {},
      workflow: null,
      extraData: {},
      sensitive: null,
      clientId: null,
      priority: 0,
      front: false,
      createdAt: clock++,
      targets: null,
      requeuedFrom: null,
    },
  ]);
  await store.claimJob(id, 'w1', clock, clock + 60_000);
  const done = await store.finish(id, {
    status: 'completed',
    endedAt: clock++,
    outputs: outputs as Job['outputs'],
  });
  return done!;
}

function logLines() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      done();
    },
  });
  return { lines, log: createLogger({ level: 'info', json: true, destination }) };
}

async function setup(
  source: FileSource,
  keyJob?: (job: Job) => { id: string; batchName: string; index: number; createdAt: number },
) {
  const dir = tempDir();
  dirs.push(dir);
  const store = await openStore({ kind: 'sqlite', file: ':memory:' });
  const bus = new MemoryEventBus();
  const target = new FolderTarget(dir.path);
  await target.init();
  const { lines, log } = logLines();
  const collector = new OutputCollector(store, bus, {
    target,
    source,
    now: () => clock,
    random: () => 0,
    log,
    backoff: { baseMs: 5, maxMs: 20 },
    ...(keyJob ? { keyJob } : {}),
  });
  await collector.start();
  return { store, bus, collector, dir: dir.path, lines };
}

test('a file its worker no longer has fails the collection after three tries, logged with the reason', async () => {
  let asked = 0;
  const { store, bus, collector, lines } = await setup({
    async open() {
      asked++;
      throw new MissingFileError('worker w1 has no output file a.png');
    },
  });
  const events: unknown[] = [];
  bus.subscribe((e) => {
    if (e.type === 'job.collected') events.push(e);
  });
  const job = await completedJob(store, { '9': { images: [image('a.png')] } });
  bus.publish({ type: 'job.finished', job });
  await collector.idle();
  assert.deepEqual(events, [
    {
      type: 'job.collected',
      jobId: job.id,
      state: 'failed',
      files: [],
      error: 'worker w1 has no output file a.png',
    },
  ]);
  const [rec] = await store.getCollections([job.id]);
  assert.equal(rec?.state, 'failed');
  assert.equal(rec?.attempts, 3);
  assert.equal(rec?.error, 'worker w1 has no output file a.png');
  assert.equal(asked, 3);
  assert.ok(lines.some((l) => l.level === 50 && String(l.msg).includes('given up') && l.job === job.id));
  assert.deepEqual(await store.listUncollected(0, null, 10), []);
  await collector.close();
  await store.close();
});

test('a batch item is stored as <batch>/<index>, its several files as <index>_<n>', async () => {
  const bytes = new Map([
    ['a.png', Buffer.from('first image')],
    ['b.webm', Buffer.from('a video')],
  ]);
  const { store, bus, collector, dir } = await setup(
    { open: async (_job, f) => Readable.from([bytes.get(f.filename)!]) },
    (job) => ({ id: job.id, batchName: 'cats', index: Number(job.name ?? 7), createdAt: job.createdAt }),
  );
  const events: unknown[] = [];
  bus.subscribe((e) => {
    if (e.type === 'job.collected') events.push(e);
  });
  const one = await completedJob(store, { '9': { images: [image('a.png')] } });
  const two = await completedJob(store, {
    '9': { images: [image('a.png')] },
    '12': { gifs: [image('b.webm')] },
  });
  bus.publish({ type: 'job.finished', job: one });
  bus.publish({ type: 'job.finished', job: two });
  await collector.idle();
  const recs = new Map((await store.getCollections([one.id, two.id])).map((r) => [r.jobId, r]));
  assert.deepEqual(
    recs.get(one.id)?.files.map((f) => f.key),
    ['cats/7.png'],
  );
  assert.deepEqual(
    recs.get(two.id)?.files.map((f) => [f.key, f.bytes]),
    [
      ['cats/7_1.png', 11],
      ['cats/7_2.webm', 7],
    ],
  );
  assert.deepEqual(readFileSync(join(dir, 'cats/7_2.webm')), bytes.get('b.webm'));
  const byJob = new Map((events as { jobId: string }[]).map((e) => [e.jobId, e]));
  assert.equal(events.length, 2);
  assert.deepEqual(byJob.get(one.id), {
    type: 'job.collected',
    jobId: one.id,
    state: 'stored',
    files: [{ key: 'cats/7.png', bytes: 11 }],
    error: null,
  });
  assert.deepEqual(byJob.get(two.id), {
    type: 'job.collected',
    jobId: two.id,
    state: 'stored',
    files: [
      { key: 'cats/7_1.png', bytes: 11 },
      { key: 'cats/7_2.webm', bytes: 7 },
    ],
    error: null,
  });
  await collector.close();
  await store.close();
});

test('a worker that cannot be reached: the job waits and tries again until it answers', async () => {
  let down = 3;
  const { store, bus, collector } = await setup({
    async open() {
      if (down-- > 0) throw new Error('connect ECONNREFUSED');
      return Readable.from([Buffer.from('late')]);
    },
  });
  const job = await completedJob(store, { '9': { images: [image('a.png')] } });
  bus.publish({ type: 'job.finished', job });
  const pending = await until(async () => {
    const [r] = await store.getCollections([job.id]);
    return r && r.attempts >= 2 ? r : undefined;
  }, 'two failed tries');
  assert.equal(pending.state, 'pending');
  assert.match(pending.error ?? '', /ECONNREFUSED/);
  await collector.idle();
  const [rec] = await store.getCollections([job.id]);
  assert.equal(rec?.state, 'stored');
  assert.equal(rec?.attempts, 3);
  assert.equal(rec?.error, null);
  await collector.close();
  await store.close();
});

test('jobs that completed before the collector started are found by its sweep; earlier ones are not', async () => {
  const store = await openStore({ kind: 'sqlite', file: ':memory:' });
  const before = await completedJob(store, { '9': { images: [image('a.png')] } });
  await store.setSetting('collect.since', String(clock));
  const missed = await completedJob(store, { '9': { images: [image('b.png')] } });
  const dir = tempDir();
  dirs.push(dir);
  const target = new FolderTarget(dir.path);
  await target.init();
  const collector = new OutputCollector(store, new MemoryEventBus(), {
    target,
    source: { open: async () => Readable.from([Buffer.from('x')]) },
    now: () => clock,
    random: () => 0,
    log: createLogger({ level: 'silent', json: true }),
  });
  await collector.start();
  await collector.idle();
  const recs = await store.getCollections([before.id, missed.id]);
  assert.deepEqual(
    recs.map((r) => [r.jobId, r.state]),
    [[missed.id, 'stored']],
  );
  await collector.close();
  await store.close();
});

test('a file whose stream breaks half-way is retried for its job alone; the others go on', async () => {
  let breaks = 1;
  const { store, bus, collector, dir, lines } = await setup({
    async open(job) {
      if (job.id === broken.id && breaks-- > 0) {
        return new Readable({
          read() {
            this.push(Buffer.from('half a fi'));
            this.destroy(new Error('socket hang up'));
          },
        });
      }
      return Readable.from([Buffer.from(`whole file of ${job.id}`)]);
    },
  });
  const broken = await completedJob(store, { '9': { images: [image('a.png')] } });
  const fine = await completedJob(store, { '9': { images: [image('b.png')] } });
  bus.publish({ type: 'job.finished', job: broken });
  bus.publish({ type: 'job.finished', job: fine });
  await collector.idle();
  const recs = new Map((await store.getCollections([broken.id, fine.id])).map((r) => [r.jobId, r]));
  assert.equal(recs.get(fine.id)?.attempts, 0);
  assert.equal(recs.get(broken.id)?.state, 'stored');
  assert.equal(recs.get(broken.id)?.attempts, 1);
  const key = recs.get(broken.id)!.files[0]!.key;
  assert.equal(readFileSync(join(dir, key), 'utf8'), `whole file of ${broken.id}`);
  const warnings = lines.filter((l) => l.level === 40).map((l) => String(l.msg));
  assert.deepEqual(warnings, ['outputs not fetched: socket hang up']);
  await collector.close();
  await store.close();
});
