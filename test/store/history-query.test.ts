import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { decodeCursor, encodeCursor } from '../../src/domain/cursor.js';
import { FINISHED_STATUSES, type JobStatus, type NewJob, type PromptGraph } from '../../src/domain/job.js';
import { jobSearchText, queryWords } from '../../src/domain/search-text.js';
import {
  JOB_SORTS,
  type JobListItem,
  type JobQuery,
  type JobSort,
  sortValue,
} from '../../src/store/job-query.js';
import type { JobStore } from '../../src/store/job-store.js';
import { FEW_MATCHES } from '../../src/store/postgres/list-jobs.js';
import { PostgresJobStore } from '../../src/store/postgres/postgres-store.js';
import { SqliteJobStore } from '../../src/store/sqlite/sqlite-store.js';
import { freshSchema, openPgStore, requirePostgres, TEST_PG_URL } from '../helpers/postgres.js';

const JOBS = 3_000;
const BASE = 1_750_000_000_000;
const VOCAB = ['cat', 'castle', 'café', 'Cafe', 'naïve', '東京', 'sunset', 'Sunrise', 'dog', 'neon', 'über'];
const WORKERS = ['w1', 'w2', 'w3'];

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Model {
  item: JobListItem;
  tokens: string[];
}

const fold = (s: string) => s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
const tokensOf = (s: string) => fold(s).match(/[\p{L}\p{N}]+/gu) ?? [];

function prompt(r: () => number, i: number): PromptGraph {
  const pick = () => VOCAB[Math.floor(r() * VOCAB.length)]!;
  const graph: PromptGraph = {
    '3': { class_type: 'KSampler', inputs: { seed: 1000 + (i % 500), steps: 20, model: ['4', 0] } },
    '6': { class_type: 'CLIPTextEncode', inputs: { text: `${pick()} ${pick()}, ${i}th`, clip: ['4', 1] } },
  };
  if (r() < 0.3) graph['9'] = { class_type: 'SaveImage', inputs: { images: ['8', 0], filename_prefix: 'x' } };
  return graph;
}

/** A store of JOBS jobs: every status, three workers, ties in created_at, flagged and renamed ones. */
async function seed(store: JobStore): Promise<Map<string, Model>> {
  const r = rng(42);
  const jobs: NewJob[] = [];
  for (let i = 0; i < JOBS; i++) {
    jobs.push({
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      name: r() < 0.2 ? `render ${VOCAB[i % VOCAB.length]}` : null,
      prompt: prompt(r, i),
      workflow: null,
      extraData: {},
      sensitive: null,
      clientId: null,
      priority: 0,
      front: false,
      createdAt: BASE + Math.floor(i / 3) * 1000,
      targets: null,
      requeuedFrom: null,
    });
  }
  await store.enqueue(jobs);
  for (let i = 0; i < JOBS - 100; i++) {
    const worker = WORKERS[Math.floor(r() * 3)]!;
    const started = BASE + i * 1000 + 500;
    const claimed = await store.claimNext(worker, started, started + 60_000);
    assert.ok(claimed);
    if (i >= JOBS - 130) continue; // left running
    const x = r();
    const status = x < 0.7 ? 'completed' : x < 0.85 ? 'failed' : 'cancelled';
    await store.finish(claimed.id, { status, endedAt: started + Math.floor(r() * 40) * 100 });
  }
  for (let i = 0; i < JOBS; i += 37) await store.setFlagged(jobs[i]!.id, true);
  for (let i = 5; i < JOBS; i += 101) await store.rename(jobs[i]!.id, `renamed tokyo ${i}`);
  const all = await store.listJobs({ limit: null });
  const model = new Map<string, Model>();
  for (const item of all.jobs) {
    const job = (await store.get(item.id))!;
    model.set(item.id, { item, tokens: tokensOf(jobSearchText(job.name, job.prompt)) });
  }
  assert.equal(model.size, JOBS);
  return model;
}

function bruteForce(model: Map<string, Model>, q: JobQuery): JobListItem[] {
  const sort = q.sort ?? 'created_at';
  const words = queryWords(q.text ?? '').map(fold);
  const out = [...model.values()]
    .filter(({ item: j, tokens }) => {
      if (q.statuses?.length && !q.statuses.includes(j.status)) return false;
      if (sort === 'ended_at' && !FINISHED_STATUSES.includes(j.status)) return false;
      if (q.since != null && j.createdAt < q.since) return false;
      if (q.until != null && j.createdAt > q.until) return false;
      if (q.worker && j.worker !== q.worker) return false;
      if (q.flagged != null && j.flagged !== q.flagged) return false;
      return words.every((w) => tokens.some((t) => t.startsWith(w)));
    })
    .map((m) => m.item);
  const sign = q.order === 'asc' ? 1 : -1;
  return out.sort(
    (a, b) => sign * (sortValue(a, sort) - sortValue(b, sort) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
  );
}

/** Absent three times in five, so that combined filters still leave rows. */
const maybe = <T>(arb: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 2, arbitrary: arb });

const queryArb = fc.record({
  statuses: fc.subarray<JobStatus>(['pending', 'in_progress', 'completed', 'failed', 'cancelled']),
  range: maybe(fc.tuple(fc.integer({ min: -50, max: 1100 }), fc.integer({ min: 0, max: 1100 }))),
  text: maybe(
    fc.oneof(
      fc.constantFrom(
        ...VOCAB,
        'ca',
        'CAF',
        'tokyo',
        'KSampler',
        'cliptext',
        '1042',
        'render',
        'nothing-here',
        'c',
        'castl',
        'sunr',
        'Ksam 10',
      ),
      fc.tuple(fc.constantFrom(...VOCAB), fc.constantFrom(...VOCAB)).map(([a, b]) => `${a} ${b}`),
    ),
  ),
  worker: maybe(fc.constantFrom(...WORKERS)),
  flagged: maybe(fc.boolean()),
  sort: fc.constantFrom<JobSort>(...JOB_SORTS),
  order: fc.constantFrom<'asc' | 'desc'>('asc', 'desc'),
  limit: fc.constantFrom(7, 50, 333),
});

async function sqliteStore(fewTextMatches: number): Promise<JobStore> {
  const store = new SqliteJobStore({ file: ':memory:', fewTextMatches });
  await store.init();
  return store;
}

async function pgStore(schema: string, fewTextMatches: number): Promise<JobStore> {
  await requirePostgres();
  const store = new PostgresJobStore({ url: TEST_PG_URL, schema, fewTextMatches });
  await store.init();
  return store;
}

async function seeded(store: Promise<JobStore>): Promise<{ store: JobStore; model: Map<string, Model> }> {
  const s = await store;
  return { store: s, model: await seed(s) };
}

// Both PostgreSQL plans read one seeded schema (seeding costs a round trip per change).
let pgSeeded: Promise<{ schema: string; model: Map<string, Model>; seeder: JobStore }> | null = null;
async function pgPlan(fewTextMatches: number): Promise<{ store: JobStore; model: Map<string, Model> }> {
  pgSeeded ??= (async () => {
    const schema = freshSchema('history_query');
    const seeder = await pgStore(schema, FEW_MATCHES);
    return { schema, model: await seed(seeder), seeder };
  })();
  const { schema, model } = await pgSeeded;
  return { store: await pgStore(schema, fewTextMatches), model };
}

after(async () => {
  if (pgSeeded) await (await pgSeeded).seeder.close();
});

for (const [plan, open] of [
  ['sqlite, few text matches: fetched by rowid and sorted', () => seeded(sqliteStore(1_000_000))],
  ['sqlite, many text matches: a walk of the sort index', () => seeded(sqliteStore(0))],
  // Between: words whose prefixes hold up to four times as many jobs are read at once and walked in SQL...
  ['sqlite, text matches between few and many: a merge of their prefixes', () => seeded(sqliteStore(200))],
  // ...and past that, walked in JavaScript against their prefixes' matches.
  ['sqlite, text matches between few and many: a walk against their prefixes', () => seeded(sqliteStore(20))],
  ['postgres, few text matches: read from the GIN index and sorted', () => pgPlan(1_000_000)],
  ['postgres, many text matches: a walk of the sort index', () => pgPlan(0)],
] as const) {
  describe(`history listing against a brute-force filter (${plan})`, () => {
    let store: JobStore;
    let model: Map<string, Model>;
    before(async () => {
      ({ store, model } = await open());
    });
    after(() => store.close());

    test('every filter and sort gives exactly the brute-force rows, and a cursor walk visits each once', async () => {
      await fc.assert(
        fc.asyncProperty(queryArb, async (a) => {
          const q: JobQuery = {
            statuses: a.statuses,
            since: a.range ? BASE + a.range[0] * 1000 : null,
            until: a.range ? BASE + (a.range[0] + a.range[1]) * 1000 : null,
            text: a.text,
            worker: a.worker,
            flagged: a.flagged,
            sort: a.sort,
            order: a.order,
          };
          const expected = bruteForce(model, q).map((j) => j.id);
          const whole = await store.listJobs({ ...q, limit: null });
          assert.deepEqual(
            whole.jobs.map((j) => j.id),
            expected,
          );
          assert.equal(whole.total, expected.length);
          const seen: string[] = [];
          let cursor: string | null = null;
          for (let pages = 0; ; pages++) {
            assert.ok(pages <= expected.length / a.limit + 1, 'the walk does not end');
            const c = cursor ? decodeCursor(cursor, JOB_SORTS, a.order) : null;
            const page = await store.listJobs({
              ...q,
              limit: a.limit,
              countTotal: false,
              after: c && { value: c.value, id: c.id },
            });
            assert.equal(page.total, null);
            assert.ok(page.jobs.length <= a.limit);
            seen.push(...page.jobs.map((j) => j.id));
            if (!page.hasMore) break;
            cursor = encodeCursor({ sort: a.sort, order: a.order, ...page.nextCursor! });
          }
          assert.deepEqual(seen, expected);
        }),
        { numRuns: 120 },
      );
    });
  });
}

for (const [kind, open] of [
  ['sqlite', () => sqliteStore(20_000)],
  ['postgres', () => openPgStore(freshSchema('history_text'))],
] as const)
  test(`${kind}: a text query finds non-ASCII words, accents folded, and ignores query syntax typed by a person`, async () => {
    const store = await open();
    try {
      const mk = (n: number, text: string, name: string | null = null): NewJob => ({
        id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
        name,
        prompt: { '1': { class_type: 'CLIPTextEncode', inputs: { text } } },
        workflow: null,
        extraData: {},
        sensitive: null,
        clientId: null,
        priority: 0,
        front: false,
        createdAt: BASE + n,
        targets: null,
        requeuedFrom: null,
      });
      await store.enqueue([
        mk(1, 'Ein Café in Zürich'),
        mk(2, '東京 の 夜景'),
        mk(3, 'cat AND dog NEAR "x"'),
      ]);
      const ids = async (text: string) => (await store.listJobs({ text })).jobs.map((j) => j.id.slice(-1));
      assert.deepEqual(await ids('cafe zurich'), ['1']);
      assert.deepEqual(await ids('CAFÉ'), ['1']);
      assert.deepEqual(await ids('東京'), ['2']);
      assert.deepEqual(await ids('AND NEAR'), ['3']);
      assert.deepEqual(await ids('"x" OR cafe'), []);
      assert.deepEqual(await ids("cat' | !dog :* & (x"), ['3']);
      assert.deepEqual(await ids('!!!'), ['3', '2', '1']);
      await store.rename(mk(2, '').id, 'Nachtbild');
      assert.deepEqual(await ids('nacht'), ['2']);
      await store.delete([mk(1, '').id], ['pending']);
      assert.deepEqual(await ids('cafe'), []);
    } finally {
      await store.close();
    }
  });
