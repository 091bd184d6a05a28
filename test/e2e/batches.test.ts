/**
 * A batch with a seed range, traits bound to an input and a 2×3 sweep, run
 * to the end on three simulated workers: every item ran once, with the seed,
 * the bound trait, the sweep values and the file name it was given.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startSimulator } from '../../src/sim/index.js';
import { http, simExecutions, startTestServer, t2iPrompt, until } from '../helpers/harness.js';

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

const BASE_ITEMS = 167; // × 6 sweep combinations = 1,002 jobs
const CFGS = [5, 7];
const SAMPLERS = ['euler', 'euler_ancestral', 'dpmpp_2m'];

interface HistoryEntry {
  prompt: [number, string, Record<string, { inputs: Record<string, unknown> }>, unknown, unknown];
  outputs: Record<string, { images?: { filename: string; subfolder: string }[] }>;
}

test('a batch of seeds × traits × a 2×3 sweep runs every item once, as asked, on several workers', async () => {
  const sims = await Promise.all([0, 1, 2].map(() => startSimulator({ port: 0, stepMs: 1 })));
  for (const s of sims) closers.push(() => s.close());
  const server = await startTestServer({ comfyUrls: sims.map((s) => s.url), workerCapacity: 2 });
  closers.push(() => server.close());

  const items = Array.from({ length: BASE_ITEMS }, (_, b) => ({
    subject: `cat number ${b}`,
    mood: b % 2 ? 'calm' : 'wild',
  }));
  const created = await http('POST', `${server.url}/api/pqueue/batches`, {
    name: 'grid',
    prompt: t2iPrompt(1, 0, 'ignored'),
    seed: { start: 1000 },
    items,
    bindings: { subject: '6.inputs.text' },
    sweep: { '3.inputs.cfg': CFGS, '3.inputs.sampler_name': SAMPLERS },
  });
  assert.equal(created.status, 201, created.text);
  const total = BASE_ITEMS * CFGS.length * SAMPLERS.length;
  assert.equal(created.body.total, total);

  const id = created.body.id;
  const finished = await until(
    async () => {
      const r = await http('GET', `${server.url}/api/pqueue/batches/${id}`);
      return r.body.state === 'finished' ? r.body : undefined;
    },
    'the batch to finish',
    120_000,
  );
  assert.equal(finished.counts.completed, total);
  // Complete once each item's image is stored in the collect folder, named <batch>/<index>.png.
  await until(
    async () => {
      const r = await http('GET', `${server.url}/api/pqueue/batches/${id}`);
      return r.body.tracker.complete === total ? true : undefined;
    },
    'every item collected',
    120_000,
  );
  const collected = readdirSync(join(server.dataDir, 'outputs', 'grid'));
  assert.equal(collected.length, total);
  for (let index = 1; index <= total; index++) assert.ok(collected.includes(`${index}.png`), `${index}.png`);

  // Every item ran exactly once across the workers, and nothing else ran.
  const ran = (await Promise.all(sims.map((s) => simExecutions(s.url)))).flat();
  assert.equal(ran.length, total);
  const byPrompt = new Map<string, HistoryEntry>();
  for (const s of sims) {
    const h = await http<Record<string, HistoryEntry>>('GET', `${s.url}/history`);
    for (const [pid, entry] of Object.entries(h.body)) byPrompt.set(pid, entry);
  }
  assert.equal(byPrompt.size, total);

  const seen = new Set<number>();
  let cursor: string | null = null;
  do {
    const page: { body: { jobs: any[]; next_cursor: string | null } } = await http(
      'GET',
      `${server.url}/api/pqueue/tracker/jobs?batch=grid&limit=400${cursor ? `&cursor=${cursor}` : ''}`,
    );
    for (const job of page.body.jobs) {
      const index: number = job.index;
      seen.add(index);
      const b = Math.floor((index - 1) / 6);
      const c = (index - 1) % 6;
      const entry = byPrompt.get(job.job_id);
      assert.ok(entry, `item ${index} ran`);
      const graph = entry.prompt[2];
      assert.equal(graph['3']!.inputs.seed, 1000 + b, `seed of item ${index}`);
      assert.equal(graph['3']!.inputs.cfg, CFGS[Math.floor(c / 3)], `cfg of item ${index}`);
      assert.equal(graph['3']!.inputs.sampler_name, SAMPLERS[c % 3], `sampler of item ${index}`);
      assert.equal(graph['6']!.inputs.text, `cat number ${b}`, `bound trait of item ${index}`);
      assert.equal(graph['9']!.inputs.filename_prefix, `grid/${index}`);
      const image = entry.outputs['9']?.images?.[0];
      assert.equal(image?.subfolder, 'grid');
      assert.match(image?.filename ?? '', new RegExp(`^${index}_\\d{5}_\\.png$`));
      assert.equal(job.seed, 1000 + b);
      assert.deepEqual(job.traits, items[b]);
      assert.equal(job.status, 'complete');
    }
    cursor = page.body.next_cursor;
  } while (cursor);
  assert.equal(seen.size, total);
});
