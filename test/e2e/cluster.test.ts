/**
 * Several comfy-queue servers on one PostgreSQL database, as separate
 * processes against simulators: one queue whichever server is asked; each
 * push worker driven by one server; a server killed with SIGKILL has its
 * workers taken over and their jobs reconciled, nothing lost and nothing run
 * twice; a dashboard on one server sees the progress and previews of a job
 * run by another server's worker, and a cancel made on one server stops a
 * job running on another's; a database that drops every connection for a
 * while is survived.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Relay, spawnAgent } from '../helpers/agents.js';
import { launchBrowser, NO_BROWSER, screenshot } from '../helpers/browser.js';
import { runCli } from '../helpers/cli-run.js';
import { EventClient } from '../helpers/event-client.js';
import {
  type ChildServer,
  http,
  type SimExecution,
  simExecutions,
  spawnServe,
  spawnSim,
  t2iPrompt,
  tempDir,
  until,
  waitForStatus,
} from '../helpers/harness.js';
import { freshSchema, requirePostgres, TEST_PG_URL } from '../helpers/postgres.js';

const TOKEN = 'cluster-token';

function dbUrl(schema: string, base = TEST_PG_URL): string {
  const u = new URL(base);
  u.searchParams.set('schema', schema);
  return u.toString();
}

const FINISHED = ['completed', 'failed', 'cancelled'];

/**
 * The failover run's size. `npm test` uses a small one; the issue-sized run
 * (30 workers, 30,000 jobs) is
 * `CLUSTER_WORKERS_PER_SERVER=10 CLUSTER_JOBS=10000 CLUSTER_BATCH=20000`.
 */
const PER_SERVER = Number(process.env.CLUSTER_WORKERS_PER_SERVER ?? 2);
const JOBS = Number(process.env.CLUSTER_JOBS ?? 240);
const BATCH = Number(process.env.CLUSTER_BATCH ?? 60);
const TOTAL = JOBS + BATCH;
/** Long enough for the whole run on two loaded cores (about 15 jobs/s at worst). */
const RUN_MS = Math.max(120_000, TOTAL * 70);

/** Every job `/api/jobs` lists, oldest first, a page at a time. */
async function listAll(url: string): Promise<string[]> {
  const out: string[] = [];
  for (let offset = 0; ; offset += 1000) {
    const r: { body: any } = await http('GET', `${url}/api/jobs?limit=1000&offset=${offset}&sort_order=asc`);
    out.push(...r.body.jobs.map((j: any) => `${j.id} ${j.status}`));
    if (r.body.jobs.length < 1000) return out.sort();
  }
}

describe('several servers on one database', () => {
  const dirs: { remove(): void }[] = [];
  const procs: ChildServer[] = [];
  const clients: EventClient[] = [];
  const relays: Relay[] = [];
  after(async () => {
    for (const c of clients) await c.close();
    for (const p of procs) await p.kill();
    for (const r of relays) await r.close();
    for (const d of dirs) d.remove();
  });

  async function prepared(label: string, base = TEST_PG_URL): Promise<string> {
    await requirePostgres();
    const schema = freshSchema(label);
    const migrated = await runCli(['migrate', '--db', dbUrl(schema)]);
    assert.equal(migrated.code, 0, migrated.stderr);
    return dbUrl(schema, base);
  }

  function serve(db: string, workers: { name: string; url: string }[], data: string) {
    return {
      data,
      start: async () => {
        const comfy =
          workers.length > 0
            ? workers.flatMap((w) => ['--comfy', `${w.name}=${w.url}`])
            : ['--comfy', 'none'];
        const s = await spawnServe([
          '--data',
          data,
          '--db',
          db,
          ...comfy,
          '--worker-lease',
          '3',
          '--worker-capacity',
          '1',
        ]);
        procs.push(s);
        return s;
      },
    };
  }

  async function allExecutions(sims: ChildServer[]): Promise<SimExecution[]> {
    return (await Promise.all(sims.map((s) => simExecutions(s.url)))).flat();
  }

  test(`three servers, ${3 * PER_SERVER} workers, jobs and a batch: a server killed and restarted loses nothing, runs nothing twice, and all agree`, async () => {
    const db = await prepared('cluster_fail');
    const sims = await Promise.all(
      Array.from({ length: 3 * PER_SERVER }, () => spawnSim(0, ['--step-ms', '5'])),
    );
    procs.push(...sims);
    const homes = [0, 1, 2].map((i) => {
      const data = tempDir();
      dirs.push(data);
      return serve(
        db,
        Array.from({ length: PER_SERVER }, (_, k) => ({
          name: `w${PER_SERVER * i + k + 1}`,
          url: sims[PER_SERVER * i + k]!.url,
        })),
        data.path,
      );
    });
    const servers: ChildServer[] = [];
    for (const h of homes) servers.push(await h.start());

    const named = (i: number) =>
      Array.from({ length: PER_SERVER }, (_, k) => `w${PER_SERVER * i + k + 1}`).sort();
    // Each server drives its own workers.
    for (const [i, s] of servers.entries()) {
      const owned = await until(async () => {
        const r: { body: any } = await http('GET', `${s.url}/api/farm/workers`);
        const mine = r.body.workers
          .filter((w: any) => w.here && w.connection === 'online')
          .map((w: any) => w.id);
        return mine.length === PER_SERVER ? mine.sort() : undefined;
      }, `server ${i} to drive its workers`);
      assert.deepEqual(owned, named(i));
    }
    // Any server lists every worker, and which server drives it.
    let lastListing = '';
    const listed = await until(async () => {
      const r: { body: any } = await http('GET', `${servers[2]!.url}/api/farm/workers`);
      const ws = r.body.workers;
      lastListing = ws.map((w: any) => `${w.id}:${w.here}:${w.connection}:${w.server}`).join(' ');
      return ws.length === 3 * PER_SERVER && ws.every((w: any) => w.connection === 'online') ? ws : undefined;
    }, 'every worker online as seen from one server').catch((err) => {
      throw new Error(`${err.message}: ${lastListing}`);
    });
    assert.deepEqual(
      listed
        .filter((w: any) => w.here)
        .map((w: any) => w.id)
        .sort(),
      named(2),
    );
    assert.ok(listed.filter((w: any) => !w.here).every((w: any) => typeof w.server === 'string'));
    const farm = await http('GET', `${servers[0]!.url}/api/farm/servers`);
    assert.equal(farm.body.servers.length, 3);
    assert.deepEqual(
      farm.body.servers.flatMap((x: any) => x.workers).sort(),
      [0, 1, 2].flatMap(named).sort(),
    );

    // Jobs go to all three servers at once, a third each.
    const perServer = await Promise.all(
      servers.map(async (s, k) => {
        const mine: string[] = [];
        for (let i = k; i < JOBS; i += 3) {
          const r = await http('POST', `${s.url}/api/pqueue/jobs`, {
            prompt: t2iPrompt(3, i),
            name: `c${i}`,
          });
          assert.equal(r.status, 201, r.text);
          mine.push(r.body.prompt_id);
        }
        return mine;
      }),
    );
    const ids = perServer.flat();
    const batch = await http('POST', `${servers[1]!.url}/api/pqueue/batches`, {
      name: 'shared',
      prompt: t2iPrompt(3, 0),
      count: BATCH,
    });
    assert.equal(batch.status, 201, batch.text);

    await until(
      async () => ((await allExecutions(sims)).length >= Math.min(TOTAL / 8, 2000) ? true : undefined),
      'an eighth of the executions',
      RUN_MS,
    );
    await servers[0]!.kill('SIGKILL');
    // The others take its workers over within the worker lease and go on.
    await until(
      async () => {
        const driven = async (s: ChildServer) =>
          (await http('GET', `${s.url}/api/farm/workers`)).body.workers.filter(
            (w: any) => w.here && w.connection === 'online',
          ).length;
        return (await driven(servers[1]!)) + (await driven(servers[2]!)) === 3 * PER_SERVER
          ? true
          : undefined;
      },
      "the killed server's workers to be adopted",
      60_000,
    );
    servers[0] = await homes[0]!.start();

    for (const id of ids) {
      const job = await waitForStatus(servers[2]!.url, id, FINISHED, RUN_MS);
      assert.equal(job.status, 'completed', `${id}: ${JSON.stringify(job.error)}`);
    }
    const batchDone = await until(
      async () => {
        const r = await http('GET', `${servers[0]!.url}/api/pqueue/batches/${batch.body.id}`);
        return r.body.counts?.completed === BATCH ? r.body : undefined;
      },
      'the batch to complete',
      RUN_MS,
    );
    assert.equal(batchDone.counts.failed ?? 0, 0);

    // Each prompt ran exactly once across all workers.
    const runs = await allExecutions(sims);
    const seen = new Map<string, number>();
    for (const e of runs) seen.set(e.prompt_id, (seen.get(e.prompt_id) ?? 0) + 1);
    for (const id of ids) assert.equal(seen.get(id), 1, `${id} ran ${seen.get(id) ?? 0} times`);
    assert.equal(runs.length, TOTAL, `executions: ${JOBS} jobs and ${BATCH} batch items`);

    // Every server tells the same story.
    const views = await Promise.all(
      servers.map(async (s) => {
        const q = await http('GET', `${s.url}/api/pqueue`);
        return { counts: q.body.counts, jobs: await listAll(s.url) };
      }),
    );
    assert.equal(views[0]!.jobs.length, TOTAL);
    assert.deepEqual(views[1], views[0]);
    assert.deepEqual(views[2], views[0]);
    assert.match(servers[1]!.output() + servers[2]!.output(), /taking over worker w\d+/);
  });

  test("a dashboard on one server sees progress and previews of a job run by another server's worker, and cancels one", async () => {
    const db = await prepared('cluster_view');
    const sim = await spawnSim(0, ['--step-ms', '20']);
    procs.push(sim);
    const dataA = tempDir();
    const dataB = tempDir();
    dirs.push(dataA, dataB);
    const a = await serve(db, [{ name: 'gpu', url: sim.url }], dataA.path).start();
    const b = await serve(db, [], dataB.path).start();
    await until(async () => {
      const r = await http('GET', `${a.url}/api/farm/workers`);
      return r.body.workers[0]?.connection === 'online' ? true : undefined;
    }, 'the worker online');

    const dash = await EventClient.connect(b.url);
    clients.push(dash);
    await dash.waitFor(() => true, 'the snapshot');
    const r = await http('POST', `${b.url}/api/pqueue/jobs`, {
      prompt: t2iPrompt(12, 7),
      name: 'seen from b',
    });
    assert.equal(r.status, 201, r.text);
    const id: string = r.body.prompt_id;
    await dash.waitForText((m) => m.type === 'job.finished' && m.job.prompt_id === id, 'job.finished on b');
    const progress = dash.texts().filter((m) => m.type === 'progress' && m.job_id === id);
    assert.ok(progress.length > 0, 'no progress reached the dashboard on b');
    assert.ok(
      dash.received.some((x) => x.kind === 'preview' && x.meta.job_id === id),
      'no preview reached the dashboard on b',
    );
    const steps = progress.map((m) => m.progress.percent ?? 0);
    assert.ok(Math.max(...steps) > 0, `progress never rose: ${JSON.stringify(steps)}`);

    // A long job started on a's worker, cancelled through b.
    const long = await http('POST', `${b.url}/api/pqueue/jobs`, { prompt: t2iPrompt(400, 8), name: 'long' });
    await waitForStatus(a.url, long.body.prompt_id, ['in_progress']);
    await until(
      async () =>
        (await simExecutions(sim.url)).some((e) => e.prompt_id === long.body.prompt_id) ? true : undefined,
      'the long job to start on the simulator',
    );
    const cancel = await http('POST', `${b.url}/api/pqueue/jobs/${long.body.prompt_id}/cancel`);
    assert.ok(cancel.status < 300, cancel.text);
    const ended = await waitForStatus(b.url, long.body.prompt_id, FINISHED, 30_000);
    assert.equal(ended.status, 'cancelled');
    const run = (await simExecutions(sim.url)).find((e) => e.prompt_id === long.body.prompt_id);
    assert.equal(run?.outcome, 'interrupted');

    // b's Workers screen shows a's worker, online, driven by a.
    if (NO_BROWSER) return;
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 700 } });
      await page.goto(`${b.url}/dashboard/#/workers`);
      const card = page.locator('[data-testid=worker][data-id="gpu"]');
      await card.getByTestId('worker-state').filter({ hasText: 'online' }).waitFor();
      assert.match((await card.getByTestId('worker-server').textContent()) ?? '', /^via \S+/);
      await screenshot(page, 'cluster-workers');
    } finally {
      await browser.close();
    }
  });

  test('a database that drops every connection for a while: the servers recover by themselves, nothing lost or run twice', async () => {
    const pg = new URL(TEST_PG_URL);
    const relay = new Relay(pg.hostname, Number(pg.port || 5432));
    await relay.start();
    relays.push(relay);
    const through = new URL(TEST_PG_URL);
    through.hostname = '127.0.0.1';
    through.port = String(relay.port);
    const db = await prepared('cluster_cut', through.toString());
    const sims = await Promise.all([0, 1].map(() => spawnSim(0, ['--step-ms', '5'])));
    procs.push(...sims);
    const servers: ChildServer[] = [];
    for (const i of [0, 1]) {
      const data = tempDir();
      dirs.push(data);
      servers.push(await serve(db, [{ name: `p${i + 1}`, url: sims[i]!.url }], data.path).start());
    }
    const ids: string[] = [];
    for (let i = 0; i < 120; i++) {
      const r = await http('POST', `${servers[i % 2]!.url}/api/pqueue/jobs`, { prompt: t2iPrompt(3, i) });
      assert.equal(r.status, 201, r.text);
      ids.push(r.body.prompt_id);
    }
    await until(
      async () => ((await allExecutions(sims)).length >= 20 ? true : undefined),
      'twenty executions',
    );
    relay.cut();
    // While the database is gone, asking for a change is refused with a clear code, not hung.
    const refused = await http('POST', `${servers[0]!.url}/api/pqueue/jobs`, { prompt: t2iPrompt(3, 999) });
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.body.code ?? refused.body.error?.code, 'STORE_UNAVAILABLE');
    const other = await http('POST', `${servers[1]!.url}/api/pqueue/jobs`, { prompt: t2iPrompt(3, 998) });
    assert.equal(other.status, 503, other.text);
    relay.heal();

    for (const id of ids) {
      const job = await waitForStatus(servers[1]!.url, id, FINISHED, 120_000);
      assert.equal(job.status, 'completed', `${id}: ${JSON.stringify(job.error)}`);
    }
    const runs = await allExecutions(sims);
    for (const id of ids)
      assert.equal(runs.filter((e) => e.prompt_id === id).length, 1, `${id} ran more than once`);
    // Both servers answer again, the same.
    const counts = await Promise.all(
      servers.map(async (s) => (await http('GET', `${s.url}/api/pqueue`)).body.counts),
    );
    assert.deepEqual(counts[0], counts[1]);
  });

  test('an agent whose server dies reconnects to another server of the database and carries on', async () => {
    const db = await prepared('cluster_agent');
    const sim = await spawnSim(0, ['--step-ms', '20']);
    procs.push(sim);
    const start = async () => {
      const data = tempDir();
      dirs.push(data);
      const s = await spawnServe([
        '--data',
        data.path,
        '--db',
        db,
        '--comfy',
        'none',
        '--token',
        TOKEN,
        '--lease',
        '20',
      ]);
      procs.push(s);
      return s;
    };
    const a = await start();
    const b = await start();
    // The agent reaches "the farm" through one address, as through a load balancer.
    const front = new Relay('127.0.0.1', Number(new URL(a.url).port));
    await front.start();
    relays.push(front);
    const agentData = tempDir();
    dirs.push(agentData);
    const agent = await spawnAgent([
      '--server',
      front.url,
      '--enroll',
      TOKEN,
      '--comfy',
      sim.url,
      '--name',
      'roamer',
      '--data',
      agentData.path,
      '--capacity',
      '1',
    ]);
    procs.push(agent);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await http(
        'POST',
        `${b.url}/api/pqueue/jobs`,
        { prompt: t2iPrompt(25, i) },
        {
          authorization: `Bearer ${TOKEN}`,
        },
      );
      assert.equal(r.status, 201, r.text);
      ids.push(r.body.prompt_id);
    }
    await until(
      async () => ((await simExecutions(sim.url)).length >= 2 ? true : undefined),
      'two executions on the agent',
    );
    await a.kill('SIGKILL');
    front.retarget('127.0.0.1', Number(new URL(b.url).port));
    const auth = { authorization: `Bearer ${TOKEN}` };
    for (const id of ids) {
      const job = await until(
        async () => {
          const r = await http('GET', `${b.url}/api/pqueue/jobs/${id}`, undefined, auth);
          return FINISHED.includes(r.body?.status) ? r.body : undefined;
        },
        `job ${id} to finish`,
        90_000,
      );
      assert.equal(job.status, 'completed', `${id}: ${JSON.stringify(job.error)}`);
      assert.equal(job.worker, 'roamer');
    }
    const runs = await simExecutions(sim.url);
    for (const id of ids) assert.equal(runs.filter((e) => e.prompt_id === id).length, 1, `${id} ran twice`);
    assert.match(agent.output(), /connected to/);
  });
});
