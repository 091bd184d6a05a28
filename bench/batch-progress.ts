/**
 * `batch.progress` under a fast batch: simulated workers finish items as fast
 * as they can while a dashboard client listens to the event websocket. Prints
 * the items' own events against the batch messages they were folded into, and
 * the most batch messages seen in any one second (the promise: a few, however
 * fast items finish).
 *
 *   npm run bench -- batch-progress      (BENCH_ITEMS, BENCH_WORKERS to change the load)
 */
import { startSimulator } from '../src/sim/index.js';
import { EventClient } from '../test/helpers/event-client.js';
import { startTestServer, t2iPrompt } from '../test/helpers/harness.js';
import { fmt, send } from './lib.js';

const ITEMS = Number(process.env.BENCH_ITEMS ?? 2_000);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 4);

async function main(): Promise<void> {
  const sims = await Promise.all(
    Array.from({ length: WORKERS }, () => startSimulator({ port: 0, stepMs: 1 })),
  );
  const server = await startTestServer({ comfyUrls: sims.map((s) => s.url), workerCapacity: 2 });
  const events = await EventClient.connect(server.url);
  try {
    const created = await send('POST', `${server.url}/api/pqueue/batches`, {
      name: 'bench',
      prompt: t2iPrompt(1, 0),
      count: ITEMS,
      seed: { start: 1 },
    });
    if (created.status !== 201) throw new Error(`batch refused: ${created.text}`);
    const id = JSON.parse(created.text).id as number;
    const t0 = performance.now();
    await events.waitFor(
      (r) =>
        r.kind === 'text' &&
        r.msg.type === 'batch.progress' &&
        r.msg.batch_id === id &&
        r.msg.tracker.complete === ITEMS,
      'every item complete',
      600_000,
    );
    const seconds = (performance.now() - t0) / 1000;
    const texts = events.received.filter((r) => r.kind === 'text') as { at: number; msg: any }[];
    // Only the batch's items run here: every job message is one of theirs.
    const itemEvents = texts.filter((r) => r.msg.type.startsWith('job.')).length;
    const progress = texts.filter((r) => r.msg.type === 'batch.progress' && r.msg.batch_id === id);
    let busiest = 0;
    for (let i = 0, j = 0; i < progress.length; i++) {
      while (progress[i]!.at - progress[j]!.at >= 1_000) j++;
      busiest = Math.max(busiest, i - j + 1);
    }
    console.log(
      `batch-progress: ${ITEMS} items on ${WORKERS} workers in ${fmt(seconds, 1)} s (${fmt(ITEMS / seconds, 0)} items/s): ` +
        `${itemEvents} item events, ${progress.length} batch.progress messages, ` +
        `at most ${busiest} in any second (${fmt(progress.length / seconds, 1)}/s on average)`,
    );
  } finally {
    events.ws.close();
    await server.close();
    for (const s of sims) await s.close();
  }
}

await main();
