/**
 * Random requests over every route and method of a server with a simulated
 * worker (a fixed seed, so a failure replays): comfy-queue never answers 5xx
 * itself, and its 4xx always have the documented shape. bench/fuzz-soak.ts
 * runs the same generator longer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { routesOf } from '../../src/api/route-index.js';
import { startSimulator } from '../../src/sim/index.js';
import { fuzzRequest, send, violation } from '../helpers/fuzz-requests.js';
import { http, startTestServer, t2iPrompt, waitForStatus } from '../helpers/harness.js';

export const FUZZ_SEED = 20261201;

describe('fuzzing every route', () => {
  let sim: Awaited<ReturnType<typeof startSimulator>>;
  let server: Awaited<ReturnType<typeof startTestServer>>;
  const ids: string[] = [];

  before(async () => {
    sim = await startSimulator({ port: 0, stepMs: 1 });
    server = await startTestServer({ comfyUrls: [sim.url] });
    for (let i = 0; i < 2; i++) {
      const r = await http('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(1, i) });
      ids.push(r.body.prompt_id);
      await waitForStatus(server.url, r.body.prompt_id, ['completed']);
    }
    await http('POST', `${server.url}/api/pqueue/pause`);
    const pending = await http('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(1, 9) });
    ids.push(pending.body.prompt_id);
  });
  after(async () => {
    await server.close();
    await sim.close();
  });

  test('never a 5xx from comfy-queue, always the documented shape for a 4xx', async () => {
    const routes = routesOf(server.app);
    assert.ok(routes.length >= 50, `only ${routes.length} routes were recorded`);
    const origin = new URL(server.url).origin;
    const statuses = new Map<number, number>();
    const recent: string[] = [];
    await fc.assert(
      fc.asyncProperty(fuzzRequest(routes, ids, origin), async (r) => {
        const a = await send(server.url, r).catch((err: Error) => {
          throw new Error(`${r.method} ${r.path}: ${err.message} after ${JSON.stringify(recent)}`);
        });
        recent.push(
          `${r.method} ${r.path} ${JSON.stringify(r.headers)} ${r.body?.slice(0, 100)} -> ${a.status}`,
        );
        if (recent.length > 3) recent.shift();
        statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
        const v = violation(routes, r, a);
        if (v) throw new Error(`${r.method} ${r.path} ${r.body?.slice(0, 200) ?? ''} → ${v}`);
      }),
      { seed: FUZZ_SEED, numRuns: 2500, includeErrorInReport: true },
    );
    // The run reached past validation too: successes and refusals both.
    assert.ok(
      (statuses.get(200) ?? 0) > 100 && (statuses.get(400) ?? 0) > 100,
      JSON.stringify([...statuses]),
    );
  });
});
