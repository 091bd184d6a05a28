/**
 * Enrolling agents, their credentials and revoking them, through the API and
 * the agent's websocket: each refusal has its own 4xx code.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { WebSocket } from 'ws';
import { AGENT_CONNECT_PATH } from '../../src/agents/protocol.js';
import { type RunningSimulator, startSimulator } from '../../src/sim/index.js';
import { spawnAgent } from '../helpers/agents.js';
import { http, startTestServer, tempDir, until } from '../helpers/harness.js';

const TOKEN = 'enrollment-test-token';
const auth = { authorization: `Bearer ${TOKEN}` };

type Server = Awaited<ReturnType<typeof startTestServer>>;

/** Opens the agent websocket: the HTTP status of a refusal, or the open socket. */
function connectAgent(
  base: string,
  credential?: string,
): Promise<{ status: number; code?: string; ws?: WebSocket }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}${AGENT_CONNECT_PATH}`, {
      headers: credential ? { authorization: `Bearer ${credential}` } : {},
    });
    ws.on('open', () => resolve({ status: 101, ws }));
    ws.on('unexpected-response', (req, res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
      });
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, code: JSON.parse(text).error?.code });
      });
    });
    ws.on('error', reject);
  });
}

async function newEnrollment(base: string, body: object = {}): Promise<{ id: string; token: string }> {
  const r = await http('POST', `${base}/api/farm/enrollments`, body, auth);
  assert.equal(r.status, 201, r.text);
  return r.body;
}

async function enroll(base: string, token: string, name: string) {
  return http('POST', `${base}/api/farm/agent/enroll`, { token, name, tags: ['gpu'], capacity: 1 });
}

describe('agent enrollment', () => {
  let sim: RunningSimulator;
  let cq: Server;
  before(async () => {
    sim = await startSimulator({ stepMs: 5 });
    cq = await startTestServer({ comfyUrls: [`gpu1=${sim.url}`], token: TOKEN, leaseMs: 3_000 });
  });
  after(async () => {
    await cq.close();
    await sim.close();
  });

  test('making an enrollment token needs the server token; it is shown once and listed without it', async () => {
    const bare = await http('POST', `${cq.url}/api/farm/enrollments`, {});
    assert.equal(bare.status, 401);
    assert.equal(bare.body.error.code, 'UNAUTHORIZED');
    const e = await newEnrollment(cq.url, { note: 'render node 7' });
    assert.match(e.token, /^cqe_/);
    const list = await http('GET', `${cq.url}/api/farm/enrollments`, undefined, auth);
    const listed = list.body.enrollments.find((x: { id: string }) => x.id === e.id);
    assert.equal(listed.state, 'open');
    assert.equal(listed.note, 'render node 7');
    assert.equal(JSON.stringify(list.body).includes(e.token), false, 'the token is never shown again');
    const bad = await http('POST', `${cq.url}/api/farm/enrollments`, { ttl_s: -1 }, auth);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'INVALID_BODY');
  });

  test('a one-time token enrolls one agent; used, unknown or expired it is refused with 403 ENROLLMENT_REFUSED', async () => {
    const e = await newEnrollment(cq.url);
    const first = await enroll(cq.url, e.token, 'node-a');
    assert.equal(first.status, 201, first.text);
    assert.equal(first.body.agent, 'node-a');
    assert.match(first.body.credential, /^cqa_/);
    const again = await enroll(cq.url, e.token, 'node-b');
    assert.equal(again.status, 403);
    assert.equal(again.body.error.code, 'ENROLLMENT_REFUSED');
    const unknown = await enroll(cq.url, 'cqe_nothing', 'node-c');
    assert.equal(unknown.status, 403);
    assert.equal(unknown.body.error.code, 'ENROLLMENT_REFUSED');
    const short = await newEnrollment(cq.url, { ttl_s: 1 });
    await until(async () => {
      const list = await http('GET', `${cq.url}/api/farm/enrollments`, undefined, auth);
      return list.body.enrollments.find((x: { id: string }) => x.id === short.id).state === 'expired'
        ? true
        : undefined;
    }, 'the enrollment expired');
    const late = await enroll(cq.url, short.token, 'node-d');
    assert.equal(late.status, 403);
    assert.equal(late.body.error.code, 'ENROLLMENT_REFUSED');
    // The agent is a worker of kind "agent", offline until it connects.
    const w = await http('GET', `${cq.url}/api/farm/workers/node-a`, undefined, auth);
    assert.equal(w.body.kind, 'agent');
    assert.deepEqual(w.body.tags, ['gpu']);
    assert.equal(w.body.state, 'offline');
  });

  test('bad enrollment bodies are 400, a push worker name is 409, the server token enrolls too', async () => {
    const e = await newEnrollment(cq.url);
    const noName = await http('POST', `${cq.url}/api/farm/agent/enroll`, { token: e.token });
    assert.equal(noName.status, 400);
    assert.equal(noName.body.error.code, 'INVALID_BODY');
    const badName = await enroll(cq.url, e.token, '-bad name');
    assert.equal(badName.status, 400);
    assert.equal(badName.body.error.code, 'INVALID_BODY');
    const taken = await enroll(cq.url, e.token, 'gpu1');
    assert.equal(taken.status, 409);
    assert.equal(taken.body.error.code, 'DUPLICATE_WORKER');
    const withServerToken = await enroll(cq.url, TOKEN, 'node-s');
    assert.equal(withServerToken.status, 201);
    // The one-time token was not spent by the refusals.
    assert.equal((await enroll(cq.url, e.token, 'node-e')).status, 201);
  });

  test('the agent websocket: no or unknown credential 401, revoked 403; revoking disconnects it', async () => {
    assert.deepEqual(await connectAgent(cq.url), { status: 401, code: 'AGENT_CREDENTIAL_INVALID' });
    assert.deepEqual(await connectAgent(cq.url, 'cqa_unknown'), {
      status: 401,
      code: 'AGENT_CREDENTIAL_INVALID',
    });
    // The server token is not an agent credential.
    assert.deepEqual(await connectAgent(cq.url, TOKEN), { status: 401, code: 'AGENT_CREDENTIAL_INVALID' });
    const e = await newEnrollment(cq.url);
    const cred = (await enroll(cq.url, e.token, 'node-r')).body.credential as string;
    const open = await connectAgent(cq.url, cred);
    assert.equal(open.status, 101);
    const closed = new Promise<number>((res) => open.ws!.on('close', (code) => res(code)));
    const revoked = await http('DELETE', `${cq.url}/api/farm/enrollments/${e.id}`, undefined, auth);
    assert.equal(revoked.status, 200, revoked.text);
    assert.equal(revoked.body.state, 'revoked');
    assert.equal(await closed, 4003);
    assert.deepEqual(await connectAgent(cq.url, cred), { status: 403, code: 'AGENT_REVOKED' });
    const missing = await http('DELETE', `${cq.url}/api/farm/enrollments/nope`, undefined, auth);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'ENROLLMENT_NOT_FOUND');
  });

  test('removing an agent worker disconnects it and revokes its credential', async () => {
    const e = await newEnrollment(cq.url);
    const cred = (await enroll(cq.url, e.token, 'node-z')).body.credential as string;
    const open = await connectAgent(cq.url, cred);
    assert.equal(open.status, 101);
    const closed = new Promise<number>((res) => open.ws!.on('close', (code) => res(code)));
    const gone = await http('DELETE', `${cq.url}/api/farm/workers/node-z`, undefined, auth);
    assert.equal(gone.status, 200, gone.text);
    assert.ok([1001, 4003].includes(await closed));
    assert.deepEqual(await connectAgent(cq.url, cred), { status: 403, code: 'AGENT_REVOKED' });
    assert.equal((await http('GET', `${cq.url}/api/farm/workers/node-z`, undefined, auth)).status, 404);
  });

  test('a running agent whose credential is revoked is cut off, refused, and stops', async () => {
    const e = await newEnrollment(cq.url);
    const dir = tempDir();
    const agent = await spawnAgent([
      '--server',
      cq.url,
      '--enroll',
      e.token,
      '--comfy',
      sim.url,
      '--name',
      'node-x',
      '--data',
      dir.path,
    ]);
    const exited = new Promise<number | null>((res) => agent.proc.once('exit', (code) => res(code)));
    await until(async () => {
      const w = await http('GET', `${cq.url}/api/farm/workers/node-x`, undefined, auth);
      return w.body.state === 'online' ? true : undefined;
    }, 'agent node-x online');
    assert.equal(
      (await http('DELETE', `${cq.url}/api/farm/enrollments/${e.id}`, undefined, auth)).status,
      200,
    );
    assert.equal(await exited, 1);
    assert.match(agent.output(), /AGENT_REVOKED/);
    const w = await http('GET', `${cq.url}/api/farm/workers/node-x`, undefined, auth);
    assert.equal(w.body.state, 'offline');
    dir.remove();
  });

  test('an agent without a credential and without --enroll stops with the reason', async () => {
    const dir = tempDir();
    await assert.rejects(
      spawnAgent(['--server', cq.url, '--comfy', sim.url, '--name', 'node-y', '--data', dir.path]),
      /enroll the agent once with --enroll TOKEN/,
    );
    dir.remove();
  });
});
