/**
 * A job run by a remote agent looks like one a pushed worker ran: its
 * progress and previews reach the event websocket, its thumbnail is made and
 * its outputs are served by /view, fetched from the agent. And an agent whose
 * connection breaks keeps working: a job that ends meanwhile is reported when
 * it is back (from its outbox on disk), once, without running again. All of
 * it over either transport: the websocket, and HTTP long-poll.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type RunningSimulator, startSimulator } from '../../src/sim/index.js';
import { Relay, spawnAgent } from '../helpers/agents.js';
import { EventClient } from '../helpers/event-client.js';
import {
  type ChildServer,
  http,
  simExecutions,
  startTestServer,
  t2iPrompt,
  tempDir,
  until,
} from '../helpers/harness.js';

const TOKEN = 'agent-jobs-token';
const auth = { authorization: `Bearer ${TOKEN}` };

type Server = Awaited<ReturnType<typeof startTestServer>>;

for (const transport of ['ws', 'http'] as const)
  describe(`jobs on a remote agent (--transport ${transport})`, () => {
    let sim: RunningSimulator;
    let cq: Server;
    let relay: Relay;
    let agent: ChildServer;
    const data = tempDir();
    before(async () => {
      sim = await startSimulator({ stepMs: 40 });
      cq = await startTestServer({ comfyUrls: [], token: TOKEN, leaseMs: 20_000 });
      relay = new Relay('127.0.0.1', Number(new URL(cq.url).port));
      await relay.start();
      agent = await spawnAgent([
        '--server',
        relay.url,
        '--enroll',
        TOKEN,
        '--comfy',
        sim.url,
        '--name',
        'remote',
        '--tags',
        'sdxl,big',
        '--data',
        data.path,
        '--transport',
        transport,
      ]);
      await until(async () => {
        const w = await http('GET', `${cq.url}/api/farm/workers/remote`, undefined, auth);
        return w.body.state === 'online' && w.body.capabilities ? w.body : undefined;
      }, 'agent online');
    });
    after(async () => {
      await agent.kill();
      await relay.close();
      await cq.close();
      await sim.close();
      data.remove();
    });

    test('progress, previews, thumbnail, /view and telemetry of an agent job, as for a pushed one', async () => {
      const w = await http('GET', `${cq.url}/api/farm/workers/remote`, undefined, auth);
      assert.equal(w.body.kind, 'agent');
      assert.equal(w.body.transport, transport === 'ws' ? 'websocket' : 'long-poll');
      assert.match(
        agent.output(),
        transport === 'ws' ? /connected to \S+ over websocket/ : /connected to \S+ over HTTP long-poll/,
      );
      assert.deepEqual(w.body.tags, ['sdxl', 'big']);
      assert.ok(w.body.capabilities.models.includes('v1-5-pruned-emaonly.safetensors'));
      const events = await EventClient.connect(cq.url, `?token=${TOKEN}`);
      const r = await http(
        'POST',
        `${cq.url}/api/pqueue/jobs`,
        { prompt: t2iPrompt(8, 3), requires: ['sdxl'] },
        auth,
      );
      assert.equal(r.status, 201, r.text);
      const id = r.body.prompt_id as string;
      await events.waitFor(
        (m) =>
          m.kind === 'text' && m.msg.type === 'progress' && m.msg.job_id === id && m.msg.worker === 'remote',
        'progress of the agent job',
      );
      await events.waitFor((m) => m.kind === 'preview' && m.meta.job_id === id, 'a preview of the agent job');
      const finished = await events.waitFor(
        (m) => m.kind === 'text' && m.msg.type === 'job.finished' && m.msg.job.prompt_id === id,
        'the job finished',
      );
      assert.equal((finished as { msg: any }).msg.job.status, 'completed');
      events.ws.close();
      const job = (await http('GET', `${cq.url}/api/pqueue/jobs/${id}`, undefined, auth)).body;
      assert.equal(job.worker, 'remote');
      const image = job.outputs['9'].images[0];
      const view = await fetch(
        `${cq.url}/view?filename=${encodeURIComponent(image.filename)}&type=output&subfolder=`,
        { headers: auth },
      );
      assert.equal(view.status, 200);
      assert.equal(view.headers.get('content-type'), 'image/png');
      const png = Buffer.from(await view.arrayBuffer());
      assert.equal(png.subarray(1, 4).toString(), 'PNG');
      const thumb = await until(async () => {
        const t = await fetch(`${cq.url}/api/pqueue/history/thumb/${id}`, { headers: auth });
        return t.status === 200 ? t : undefined;
      }, 'the thumbnail');
      assert.equal(thumb.headers.get('content-type'), 'image/png');
      const tele = await http('GET', `${cq.url}/api/admin/telemetry`, undefined, auth);
      const remote = tele.body.workers.find((x: { id: string }) => x.id === 'remote');
      assert.equal(remote?.state, 'online');
    });

    test('a job that ends while the agent is cut off (shorter than the lease) is reported once it is back', async () => {
      const r = await http('POST', `${cq.url}/api/pqueue/jobs`, { prompt: t2iPrompt(15, 4) }, auth);
      const id = r.body.prompt_id as string;
      await until(
        async () => ((await simExecutions(sim.url)).some((e) => e.prompt_id === id) ? true : undefined),
        'the job started',
      );
      relay.pause();
      await until(async () => {
        const e = (await simExecutions(sim.url)).find((x) => x.prompt_id === id);
        return e?.end ? true : undefined;
      }, 'the job ended on ComfyUI');
      const during = (await http('GET', `${cq.url}/api/pqueue/jobs/${id}`, undefined, auth)).body;
      assert.equal(during.status, 'in_progress', 'the server has not heard of it yet');
      await until(
        async () => (agent.output().includes('disconnected from') ? true : undefined),
        'the agent noticed',
      );
      relay.resume();
      const done = await until(async () => {
        const j = (await http('GET', `${cq.url}/api/pqueue/jobs/${id}`, undefined, auth)).body;
        return j.status === 'completed' ? j : undefined;
      }, 'the buffered report taken');
      assert.equal(done.worker, 'remote');
      assert.equal(done.attempts, 1, 'not run again');
      assert.equal((await simExecutions(sim.url)).filter((e) => e.prompt_id === id).length, 1);
      assert.match(agent.output(), /replaying \d+ message/);
    });
  });
