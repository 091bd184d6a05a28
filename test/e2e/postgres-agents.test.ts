/**
 * A remote agent on a server that keeps its queue in PostgreSQL: enrolled
 * with a one-time token, it runs a job; the server is killed and started
 * again on the same database, and the agent comes back with the credential
 * the database kept, then runs the next job. A second redeem of the token is
 * refused; revoking the enrollment cuts the agent off.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, test } from 'node:test';
import { spawnAgent } from '../helpers/agents.js';
import {
  type ChildServer,
  http,
  spawnServe,
  spawnSim,
  t2iPrompt,
  tempDir,
  until,
} from '../helpers/harness.js';
import { freshSchema, requirePostgres, TEST_PG_URL } from '../helpers/postgres.js';

const TOKEN = 'pg-agent-token';
const auth = { authorization: `Bearer ${TOKEN}` };

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((res) => s.listen(0, '127.0.0.1', () => res()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((res) => s.close(() => res()));
  return port;
}

const procs: ChildServer[] = [];
const dirs: { remove(): void }[] = [];
after(async () => {
  for (const p of procs) await p.kill();
  for (const d of dirs) d.remove();
});

test('an agent enrolled on PostgreSQL keeps its credential through a server restart', async () => {
  await requirePostgres();
  const url = new URL(TEST_PG_URL);
  url.searchParams.set('schema', freshSchema('e2e_agents'));
  const port = await freePort();
  const data = tempDir();
  const agentData = tempDir();
  dirs.push(data, agentData);
  const sim = await spawnSim(0, ['--step-ms', '5']);
  procs.push(sim);
  // The later --port wins over spawnServe's --port 0: the agent finds the server at the same address.
  const args = ['--port', String(port), '--data', data.path, '--comfy', 'none', '--token', TOKEN];
  const start = async () => {
    const s = await spawnServe([...args, '--db', url.toString()]);
    procs.push(s);
    return s;
  };
  let server = await start();
  assert.equal(server.url, `http://127.0.0.1:${port}`);

  const made = await http('POST', `${server.url}/api/farm/enrollments`, { note: 'pg node' }, auth);
  assert.equal(made.status, 201, made.text);
  const agent = await spawnAgent([
    '--server',
    server.url,
    '--enroll',
    made.body.token,
    '--comfy',
    sim.url,
    '--name',
    'pg-node',
    '--data',
    agentData.path,
  ]);
  procs.push(agent);
  const again = await http('POST', `${server.url}/api/farm/agent/enroll`, {
    token: made.body.token,
    name: 'other',
    tags: [],
    capacity: 1,
  });
  assert.equal(again.status, 403);
  assert.equal(again.body.error.code, 'ENROLLMENT_REFUSED');

  const runOne = async (seed: number) => {
    const r = await http('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(2, seed) }, auth);
    assert.equal(r.status, 201, r.text);
    const job = await until(async () => {
      const j = (await http('GET', `${server.url}/api/pqueue/jobs/${r.body.prompt_id}`, undefined, auth))
        .body;
      return j.status === 'completed' || j.status === 'failed' ? j : undefined;
    }, 'the job finished');
    assert.equal(job.status, 'completed', JSON.stringify(job.error));
    assert.equal(job.worker, 'pg-node');
  };
  await runOne(1);

  await server.kill('SIGKILL');
  server = await start();
  await until(async () => {
    const w = await http('GET', `${server.url}/api/farm/workers/pg-node`, undefined, auth);
    return w.body?.state === 'online' ? true : undefined;
  }, 'the agent back online');
  await runOne(2);
  const list = await http('GET', `${server.url}/api/farm/enrollments`, undefined, auth);
  const [enrollment] = list.body.enrollments;
  assert.equal(enrollment.id, made.body.id);
  assert.equal(enrollment.agent, 'pg-node');
  assert.equal(enrollment.state, 'used');

  const revoked = await http('DELETE', `${server.url}/api/farm/enrollments/${made.body.id}`, undefined, auth);
  assert.equal(revoked.status, 200, revoked.text);
  await until(async () => {
    const w = await http('GET', `${server.url}/api/farm/workers/pg-node`, undefined, auth);
    return w.body?.state !== 'online' ? true : undefined;
  }, 'the agent cut off');
});
