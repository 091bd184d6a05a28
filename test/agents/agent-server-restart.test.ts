/**
 * The server restarts while an agent runs a job: the agent keeps running it,
 * reconnects, and the job's outcome (reported while the server was down, from
 * the agent's outbox) is recorded once, without the job running again.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, test } from 'node:test';
import { startSimulator } from '../../src/sim/index.js';
import { spawnAgent } from '../helpers/agents.js';
import { http, simExecutions, startTestServer, t2iPrompt, tempDir, until } from '../helpers/harness.js';

const TOKEN = 'restart-token';
const auth = { authorization: `Bearer ${TOKEN}` };

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((res) => s.listen(0, '127.0.0.1', () => res()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}

test('a server restart while an agent runs a job: the job completes once, on that agent', async () => {
  const sim = await startSimulator({ stepMs: 60 });
  const port = await freePort();
  const dataDir = tempDir().path;
  const config = { comfyUrls: [], token: TOKEN, leaseMs: 30_000, port, dataDir };
  let cq = await startTestServer(config);
  const agentData = tempDir();
  const agent = await spawnAgent([
    '--server',
    cq.url,
    '--enroll',
    TOKEN,
    '--comfy',
    sim.url,
    '--name',
    'steady',
    '--data',
    agentData.path,
  ]);
  after(async () => {
    await agent.kill();
    await cq.close();
    await sim.close();
    agentData.remove();
  });
  await until(async () => {
    const w = await http('GET', `${cq.url}/api/farm/workers/steady`, undefined, auth);
    return w.body.state === 'online' ? true : undefined;
  }, 'agent online');
  const r = await http('POST', `${cq.url}/api/pqueue/jobs`, { prompt: t2iPrompt(20, 9) }, auth);
  const id = r.body.prompt_id as string;
  await until(
    async () => ((await simExecutions(sim.url)).some((e) => e.prompt_id === id) ? true : undefined),
    'the job running',
  );
  await cq.close();
  // It ends on ComfyUI while the server is down: the agent keeps its report.
  await until(async () => {
    const e = (await simExecutions(sim.url)).find((x) => x.prompt_id === id);
    return e?.end ? true : undefined;
  }, 'the job ended on ComfyUI');
  cq = await startTestServer(config);
  const done = await until(async () => {
    const j = (await http('GET', `${cq.url}/api/pqueue/jobs/${id}`, undefined, auth)).body;
    return j.status === 'completed' ? j : undefined;
  }, 'the job recorded after the restart');
  assert.equal(done.worker, 'steady');
  assert.equal(done.attempts, 1);
  assert.equal((await simExecutions(sim.url)).filter((e) => e.prompt_id === id).length, 1);
  // And the agent takes new work again.
  const next = await http('POST', `${cq.url}/api/pqueue/jobs`, { prompt: t2iPrompt(2, 10) }, auth);
  await until(async () => {
    const j = (await http('GET', `${cq.url}/api/pqueue/jobs/${next.body.prompt_id}`, undefined, auth)).body;
    return j.status === 'completed' ? j : undefined;
  }, 'a new job done');
});
