/**
 * A history store for benchmarks: finished jobs written straight into a
 * SQLite store (0.5 % left pending), 5 per second from T0, three workers,
 * prompts of words with a Zipf-like spread, with their search text.
 */
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import type { PromptGraph } from '../src/domain/job.js';
import { jobSearchText } from '../src/domain/search-text.js';
import { openStore } from '../src/store/open-store.js';

export const T0 = 1_700_000_000_000;

// Words by rank: word r appears in about 1/(r+1) of the prompts (a Zipf-like spread).
const SYLLABLES = ['ka', 'lo', 'mi', 'ru', 'se', 'ta', 'vo', 'ne', 'pi', 'du'];
export const word = (r: number) =>
  `${SYLLABLES[r % 10]}${SYLLABLES[Math.floor(r / 10) % 10]}${SYLLABLES[Math.floor(r / 100) % 10]}x`;

function promptOf(i: number, rnd: () => number): PromptGraph {
  const words: string[] = [];
  for (let k = 0; k < 8; k++) words.push(word(Math.min(999, Math.floor(1 / (rnd() + 0.001)) - 1)));
  return {
    '4': { class_type: 'CheckpointLoaderSimple', inputs: { ckpt_name: 'sd_xl_base_1.0.safetensors' } },
    '6': { class_type: 'CLIPTextEncode', inputs: { text: `a photo of ${words.join(' ')}`, clip: ['4', 1] } },
    '7': { class_type: 'CLIPTextEncode', inputs: { text: 'blurry, lowres', clip: ['4', 1] } },
    '3': {
      class_type: 'KSampler',
      inputs: { seed: 100_000 + i, steps: 20, cfg: 7, sampler_name: 'euler', model: ['4', 0] },
    },
    '9': { class_type: 'SaveImage', inputs: { images: ['8', 0], filename_prefix: 'ComfyUI' } },
  };
}

export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n finished jobs (0.5 % pending), 5 per second, three workers, with their search text. */
export async function populate(file: string, n: number): Promise<void> {
  const store = await openStore({ kind: 'sqlite', file });
  await store.close();
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const insert = db.prepare(
    `INSERT INTO jobs (id, name, prompt, extra_data, position, status, created_at, started_at, ended_at, outputs, worker, flagged)
     VALUES (?, ?, ?, '{}', ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const fts = db.prepare('INSERT INTO jobs_fts (rowid, text) VALUES (?, ?)');
  const statuses = ['completed', 'completed', 'completed', 'completed', 'failed', 'cancelled'];
  const rnd = rng(1);
  const chunk = 50_000;
  for (let start = 0; start < n; start += chunk) {
    db.transaction(() => {
      for (let i = start; i < Math.min(n, start + chunk); i++) {
        const created = T0 + i * 200;
        const pending = i % 200 === 0;
        const status = pending ? 'pending' : statuses[i % 6]!;
        const prompt = promptOf(i, rnd);
        const name = i % 10 === 0 ? `render ${i}` : null;
        const outputs =
          status === 'completed'
            ? JSON.stringify({
                '9': { images: [{ filename: `ComfyUI_${i}_.png`, subfolder: '', type: 'output' }] },
              })
            : null;
        const r = insert.run(
          randomUUID(),
          name,
          JSON.stringify(prompt),
          i,
          status,
          created,
          pending ? null : created + 50,
          pending ? null : created + 50 + Math.floor(rnd() * 60_000),
          outputs,
          pending ? null : `w${(i % 3) + 1}`,
          i % 500 === 0 ? 1 : 0,
        );
        fts.run(r.lastInsertRowid, jobSearchText(name, prompt));
      }
    })();
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}
