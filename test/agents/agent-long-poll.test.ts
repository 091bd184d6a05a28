/**
 * HTTP long-poll, for agents whose network blocks websockets: the batch
 * format; the session routes (a session is the agent's connection: a newer
 * one replaces it, a revoked credential ends it) and their refusals; and an
 * agent left on `auto` behind a proxy that refuses websocket upgrades, which
 * falls back to long-poll and runs jobs.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeBatch, encodeBatch } from '../../src/agents/protocol.js';
import { type RunningSimulator, startSimulator } from '../../src/sim/index.js';
import { Relay, spawnAgent } from '../helpers/agents.js';
import { type ChildServer, http, startTestServer, t2iPrompt, tempDir, until } from '../helpers/harness.js';

const TOKEN = 'long-poll-token';
const auth = { authorization: `Bearer ${TOKEN}` };
const SESSIONS = '/api/farm/agent/sessions';

test('a batch carries text and binary messages in order; a malformed one says where', () => {
  const bin = Buffer.from([0, 1, 2, 255]);
  const batch = encodeBatch(['{"t":"renew","jobs":[]}', bin, '']);
  assert.deepEqual(decodeBatch(batch), ['{"t":"renew","jobs":[]}', bin, '']);
  assert.deepEqual(decodeBatch(Buffer.alloc(0)), []);
  assert.match(decodeBatch(batch.subarray(0, batch.length - 1)) as string, /cut short/);
  assert.match(decodeBatch(Buffer.from([0x74, 0, 0])) as string, /header is cut short at byte 0/);
  assert.match(decodeBatch(Buffer.from([0x7a, 0, 0, 0, 0])) as string, /not a message kind/);
});

describe('the long-poll session routes', () => {
  let cq: Awaited<ReturnType<typeof startTestServer>>;
  let credential: string;
  const as = (c: string) => ({ authorization: `Bearer ${c}` });
  const batch = (...messages: object[]) => encodeBatch(messages.map((m) => JSON.stringify(m)));
  const post = (session: string, body: Buffer | string, type = 'application/octet-stream', c = credential) =>
    fetch(`${cq.url}${SESSIONS}/${session}/messages`, {
      method: 'POST',
      headers: { ...as(c), 'content-type': type },
      body: typeof body === 'string' ? body : new Uint8Array(body),
    }).then(async (r) => ({ status: r.status, body: r.status === 204 ? null : await r.json() }));
  const hello = {
    t: 'hello',
    version: 'test',
    capacity: 1,
    tags: [],
    state: 'online',
    systemStats: null,
    holding: [],
    sessions: [randomUUID()],
  };

  before(async () => {
    cq = await startTestServer({ comfyUrls: [], token: TOKEN, leaseMs: 8_000 });
    const e = await http('POST', `${cq.url}/api/farm/agent/enroll`, { token: TOKEN, name: 'lp' });
    assert.equal(e.status, 201, e.text);
    credential = e.body.credential;
  });
  after(async () => {
    await cq.close();
  });

  test("a session is the agent's connection: hello, welcome, replaced by a newer one, ended by the agent", async () => {
    const open = await http('POST', `${cq.url}${SESSIONS}`, undefined, as(credential));
    assert.equal(open.status, 201, open.text);
    const { session, hold_ms, ping_ms } = open.body;
    assert.equal(hold_ms, ping_ms, 'held one ping interval (a quarter of the lease)');
    assert.equal(ping_ms, 2_000);
    assert.equal((await post(session, batch(hello))).status, 204);
    const polled = await http('GET', `${cq.url}${SESSIONS}/${session}/messages`, undefined, as(credential));
    assert.equal(polled.status, 200, polled.text);
    const welcome = polled.body.messages[0];
    assert.equal(welcome.t, 'welcome');
    assert.equal(welcome.agent, 'lp');
    assert.deepEqual(welcome.acked, { [hello.sessions[0]!]: 0 });
    const online = await until(async () => {
      const w = await http('GET', `${cq.url}/api/farm/workers/lp`, undefined, auth);
      return w.body.connection === 'online' ? w.body : undefined;
    }, 'the agent online');
    assert.equal(online.transport, 'long-poll');
    // Online, the server asks for the agent's object_info (routing and validation share one
    // request); the request may already have come with the welcome.
    const seen: { op?: string }[] = [...polled.body.messages];
    await until(async () => {
      if (seen.some((m) => m.op === 'objectInfo')) return true;
      const r = await http('GET', `${cq.url}${SESSIONS}/${session}/messages`, undefined, as(credential));
      if (r.status === 200) seen.push(...r.body.messages);
      return undefined;
    }, 'the object_info request');
    assert.equal(seen.filter((m) => m.op === 'objectInfo').length, 1);

    // A GET waiting when a newer session opens is answered at once: this one ended.
    const waiting = http('GET', `${cq.url}${SESSIONS}/${session}/messages`, undefined, as(credential));
    await new Promise((r) => setTimeout(r, 50));
    const newer = await http('POST', `${cq.url}${SESSIONS}`, undefined, as(credential));
    assert.equal(newer.status, 201);
    const ended = await waiting;
    assert.equal(ended.status, 410, JSON.stringify(ended.body));
    assert.equal(ended.body.error.code, 'AGENT_SESSION_ENDED');
    assert.match(ended.body.error.message, /replaced by a new connection/);
    assert.equal((await post(session, batch(hello))).status, 410);

    const gone = await fetch(`${cq.url}${SESSIONS}/${newer.body.session}`, {
      method: 'DELETE',
      headers: as(credential),
    });
    assert.equal(gone.status, 204);
    const after = await http(
      'GET',
      `${cq.url}${SESSIONS}/${newer.body.session}/messages`,
      undefined,
      as(credential),
    );
    assert.equal(after.status, 410);
    assert.match(after.body.error.message, /the agent ended the session/);
    const w = await http('GET', `${cq.url}/api/farm/workers/lp`, undefined, auth);
    assert.equal(w.body.transport, null);
  });

  test('refusals: credential, session id, wait, content type, malformed batch', async () => {
    const none = await http('POST', `${cq.url}${SESSIONS}`);
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 'AGENT_CREDENTIAL_INVALID');
    const wrong = await http('POST', `${cq.url}${SESSIONS}`, undefined, as('cqa_not-a-credential'));
    assert.equal(wrong.body.error.code, 'AGENT_CREDENTIAL_INVALID');
    const body = await http('POST', `${cq.url}${SESSIONS}`, { capacity: 3 }, as(credential));
    assert.equal(body.status, 400);
    assert.equal(body.body.error.code, 'INVALID_BODY');

    const { session } = (await http('POST', `${cq.url}${SESSIONS}`, undefined, as(credential))).body;
    const get = (path: string, c = credential) =>
      http('GET', `${cq.url}${SESSIONS}/${path}`, undefined, as(c));
    assert.equal((await get('not-a-session/messages')).body.error.code, 'INVALID_ID');
    const unknown = await get(`${randomUUID()}/messages`);
    assert.equal(unknown.status, 410);
    assert.equal(unknown.body.error.code, 'AGENT_SESSION_ENDED');
    for (const wait of ['-1', 'soon', '999999999', '1.5']) {
      const r = await get(`${session}/messages?wait_ms=${wait}`);
      assert.equal(r.status, 400, wait);
      assert.equal(r.body.error.code, 'INVALID_QUERY');
    }
    const other = await get(`${session}/messages?wait_ms=0`, 'cqa_someone-else');
    assert.equal(other.status, 401, "another credential does not reach this agent's session");
    assert.deepEqual((await get(`${session}/messages?wait_ms=0`)).body, { messages: [] });

    const json = await post(session, JSON.stringify(hello), 'application/json');
    assert.equal(json.status, 415);
    assert.equal(json.body.error.code, 'UNSUPPORTED_MEDIA_TYPE');
    assert.match(json.body.error.message, /application\/octet-stream/);
    const cut = await post(session, Buffer.from([0x74, 0, 0, 0, 9, 0x7b]));
    assert.equal(cut.status, 400);
    assert.equal(cut.body.error.code, 'INVALID_BODY');
    assert.match(cut.body.error.message, /cut short/);
    const empty = await post(session, Buffer.alloc(0));
    assert.equal(empty.status, 400);
    assert.equal(empty.body.error.code, 'INVALID_BODY');
    const untyped = await fetch(`${cq.url}${SESSIONS}/${session}/messages`, {
      method: 'POST',
      headers: as(credential),
    });
    assert.equal(untyped.status, 415);
    assert.equal((await post(session, Buffer.from('junk'), 'application/octet-stream', 'cqa_x')).status, 401);
  });

  test('revoking the credential ends its session and refuses a new one', async () => {
    const { session } = (await http('POST', `${cq.url}${SESSIONS}`, undefined, as(credential))).body;
    const waiting = http('GET', `${cq.url}${SESSIONS}/${session}/messages`, undefined, as(credential));
    await new Promise((r) => setTimeout(r, 50));
    const list = await http('GET', `${cq.url}/api/farm/enrollments`, undefined, auth);
    const e = list.body.enrollments.find((x: { agent: string }) => x.agent === 'lp');
    assert.equal(
      (await http('DELETE', `${cq.url}/api/farm/enrollments/${e.id}`, undefined, auth)).status,
      200,
    );
    const ended = await waiting;
    assert.equal(ended.status, 410);
    assert.match(ended.body.error.message, /credential revoked/);
    const refused = await http('POST', `${cq.url}${SESSIONS}`, undefined, as(credential));
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'AGENT_REVOKED');
  });
});

describe('an agent on auto behind a proxy that refuses websocket upgrades', () => {
  let sim: RunningSimulator;
  let cq: Awaited<ReturnType<typeof startTestServer>>;
  let proxy: Relay;
  let agent: ChildServer;
  const data = tempDir();
  before(async () => {
    sim = await startSimulator({ stepMs: 10 });
    cq = await startTestServer({ comfyUrls: [], token: TOKEN, leaseMs: 8_000 });
    proxy = new Relay('127.0.0.1', Number(new URL(cq.url).port), { refuseUpgrades: true });
    await proxy.start();
    agent = await spawnAgent([
      '--server',
      proxy.url,
      '--enroll',
      TOKEN,
      '--comfy',
      sim.url,
      '--name',
      'behind',
      '--data',
      data.path,
    ]);
  });
  after(async () => {
    await agent.kill();
    await proxy.close();
    await cq.close();
    await sim.close();
    data.remove();
  });

  test('falls back to long-poll, says so, and runs jobs', async () => {
    assert.ok(proxy.upgradesRefused >= 1, 'the websocket was tried first');
    assert.match(
      agent.output(),
      /the websocket to \S+ failed \(the websocket upgrade was answered HTTP 403\): trying HTTP long-poll/,
    );
    assert.match(agent.output(), /agent behind connected to \S+ over HTTP long-poll/);
    const w = await until(async () => {
      const r = await http('GET', `${cq.url}/api/farm/workers/behind`, undefined, auth);
      return r.body.state === 'online' ? r.body : undefined;
    }, 'the agent online');
    assert.equal(w.transport, 'long-poll');
    const ids = await Promise.all(
      [1, 2, 3].map(async (seed) => {
        const r = await http('POST', `${cq.url}/api/pqueue/jobs`, { prompt: t2iPrompt(4, seed) }, auth);
        assert.equal(r.status, 201, r.text);
        return r.body.prompt_id as string;
      }),
    );
    for (const id of ids) {
      const done = await until(async () => {
        const j = (await http('GET', `${cq.url}/api/pqueue/jobs/${id}`, undefined, auth)).body;
        return j.status === 'completed' ? j : undefined;
      }, `job ${id} completed`);
      assert.equal(done.worker, 'behind');
      assert.equal(done.attempts, 1);
    }
    const image = (await http('GET', `${cq.url}/api/pqueue/jobs/${ids[0]}`, undefined, auth)).body.outputs[
      '9'
    ].images[0];
    const view = await fetch(
      `${cq.url}/view?filename=${encodeURIComponent(image.filename)}&type=output&subfolder=`,
      {
        headers: auth,
      },
    );
    assert.equal(view.status, 200, 'its output file fetched from the agent over long-poll');
    assert.equal(
      Buffer.from(await view.arrayBuffer())
        .subarray(1, 4)
        .toString(),
      'PNG',
    );
  });
});
