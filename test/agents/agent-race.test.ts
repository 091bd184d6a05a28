/**
 * Five agents, each a separate process in front of its own simulated ComfyUI,
 * race for 200 jobs while agents are killed (SIGKILL) at random moments and
 * started again within the lease: every job completes once, and every prompt
 * was executed exactly once across all the simulators.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { type RunningSimulator, startSimulator } from '../../src/sim/index.js';
import { spawnAgent } from '../helpers/agents.js';
import {
  type ChildServer,
  http,
  simExecutions,
  spawnServe,
  t2iPrompt,
  tempDir,
  until,
} from '../helpers/harness.js';

const TOKEN = 'race-test-token';
const auth = { authorization: `Bearer ${TOKEN}` };
const AGENTS = 5;
const JOBS = 200;
const KILLS = 8;

test('agents killed and restarted within the lease: each prompt executed exactly once', async () => {
  const sims: RunningSimulator[] = [];
  for (let i = 0; i < AGENTS; i++) sims.push(await startSimulator({ stepMs: 10 }));
  const data = tempDir();
  const server = await spawnServe([
    '--comfy',
    'none',
    '--token',
    TOKEN,
    '--lease',
    '15',
    '--data',
    data.path,
  ]);
  const agents: ChildServer[] = [];
  const agentData = Array.from({ length: AGENTS }, () => tempDir());
  const start = (i: number, enroll: boolean) =>
    spawnAgent([
      '--server',
      server.url,
      ...(enroll ? ['--enroll', TOKEN] : []),
      '--comfy',
      sims[i]!.url,
      '--name',
      `agent${i + 1}`,
      '--data',
      agentData[i]!.path,
    ]);
  after(async () => {
    for (const a of agents) await a.kill();
    await server.kill('SIGTERM');
    for (const s of sims) await s.close();
    data.remove();
    for (const d of agentData) d.remove();
  });
  for (let i = 0; i < AGENTS; i++) agents[i] = await start(i, true);

  const ids: string[] = [];
  for (let at = 0; at < JOBS; at += 20) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(20, JOBS - at) }, (_, k) =>
        http('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(3, at + k + 1) }, auth),
      ),
    );
    for (const r of batch) {
      assert.equal(r.status, 201, r.text);
      ids.push(r.body.prompt_id);
    }
  }

  const counts = async () =>
    (await http('GET', `${server.url}/api/admin/queue?limit=1`, undefined, auth)).body.counts;
  // Kill an agent at a random moment, and start it again at once (well within the 15 s lease);
  // meanwhile the others go on, and may be killed in turn.
  let kills = 0;
  const restarting = new Map<number, Promise<void>>();
  while (kills < KILLS) {
    const c = await counts();
    if (c.completed + c.failed + c.cancelled >= JOBS) break;
    await new Promise((r) => setTimeout(r, 50 + Math.random() * 300));
    const i = Math.floor(Math.random() * AGENTS);
    if (restarting.has(i)) continue;
    await agents[i]!.kill('SIGKILL');
    kills++;
    restarting.set(
      i,
      start(i, false).then((a) => {
        agents[i] = a;
        restarting.delete(i);
      }),
    );
  }
  await Promise.all(restarting.values());

  const final = await until(
    async () => {
      const c = await counts();
      return c.completed + c.failed + c.cancelled >= JOBS ? c : undefined;
    },
    `all ${JOBS} jobs finished`,
    240_000,
  );
  assert.equal(final.completed, JOBS, `every job completed: ${JSON.stringify(final)}`);

  const executed = new Map<string, number>();
  for (const s of sims)
    for (const e of await simExecutions(s.url))
      executed.set(e.prompt_id, (executed.get(e.prompt_id) ?? 0) + 1);
  const twice = [...executed].filter(([, n]) => n > 1).map(([id]) => id);
  assert.deepEqual(twice, [], 'no prompt executed twice');
  const never = ids.filter((id) => !executed.has(id));
  assert.deepEqual(never, [], 'every prompt executed');
  assert.equal(executed.size, JOBS);
  // Each job's outcome is recorded once, by the agent that ran it.
  const workers = new Set<string>();
  for (const id of ids.slice(0, 20)) {
    const j = await http('GET', `${server.url}/api/pqueue/jobs/${id}`, undefined, auth);
    assert.equal(j.body.status, 'completed');
    workers.add(j.body.worker);
  }
  assert.ok([...workers].every((w) => /^agent\d$/.test(w)));
  assert.ok(kills > 0, 'at least one agent was killed while jobs ran');
});
