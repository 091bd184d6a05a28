import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startSimulator } from '../../src/sim/index.js';
import { launchBrowser, NO_BROWSER, screenshot } from '../helpers/browser.js';
import { http, ROOT, simExecutions, startTestServer, t2iPrompt, until } from '../helpers/harness.js';

type Sim = Awaited<ReturnType<typeof startSimulator>>;
type Server = Awaited<ReturnType<typeof startTestServer>>;
interface PageEvent {
  type: string;
  detail: any;
}

const FIXTURE = readFileSync(join(ROOT, 'test/fixtures/comfyui-frontend/index.html'), 'utf8');
/** The custom-node folder as `npm run build` packs it; ComfyUI serves its web/ at /extensions/<folder>/. */
const CUSTOM_NODE_MODULE = join(ROOT, 'dist/comfyui-custom-node/comfy-queue-panel/web/main.js');
const MODULE_PATH = '/extensions/comfy-queue-panel/main.js';
const TOKEN = 'direct-queue-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };

function workflow(note: string): Record<string, unknown> {
  return {
    id: '6f1c9a52-0000-4000-8000-000000000002',
    last_node_id: 9,
    last_link_id: 9,
    nodes: [{ id: 9, type: 'SaveImage', pos: [0, 0], size: [200, 100], widgets_values: ['ComfyUI'] }],
    links: [],
    groups: [],
    config: {},
    extra: { note },
    version: 0.4,
  };
}

describe('ComfyUI opened directly with the custom node: the Queue button goes to comfy-queue', {
  skip: NO_BROWSER,
}, () => {
  let sim: Sim;
  let server: Server;
  let browser: Browser;
  let page: Page;
  let base: string;
  /** POST /prompt requests the page sent to the ComfyUI that served it */
  const postedToComfy: string[] = [];

  const cq = (method: string, path: string) => http(method, `${base}${path}`, undefined, AUTH);
  const completed = (id: string) =>
    until(async () => {
      const r = await cq('GET', `/api/pqueue/jobs/${id}`);
      return r.body?.status === 'completed' ? r.body : undefined;
    }, `job ${id} to complete`);
  const events = async (): Promise<PageEvent[]> => (await page.evaluate('window.__events')) as PageEvent[];
  const queued = async (): Promise<{ prompt_id: string }[]> =>
    (await page.evaluate('window.__queued')) as { prompt_id: string }[];
  const queuedCount = async (n: number) =>
    until(async () => ((await queued()).length >= n ? await queued() : undefined), `${n} queued`);
  const setGraph = (steps: number, seed: number, note: string) =>
    page.evaluate(([o, w]) => (globalThis as any).__setGraph(o, w), [
      t2iPrompt(steps, seed),
      workflow(note),
    ] as const);

  /** ComfyUI's page at `comfyUrl` (an origin of the simulator), with the custom node's module loaded. */
  async function openComfyUi(comfyUrl: string, posted: string[]): Promise<Page> {
    const p = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    const origin = new URL(comfyUrl).origin;
    p.on('request', (req) => {
      const u = new URL(req.url());
      if (req.method() === 'POST' && u.origin === origin && /^\/(api\/)?prompt$/.test(u.pathname))
        posted.push(req.url());
    });
    // ComfyUI's page, its extension list with the custom node's module, and the module itself.
    await p.route(`${origin}/`, (route) =>
      route.fulfill({ status: 200, contentType: 'text/html', body: FIXTURE }),
    );
    await p.route(`${origin}/api/extensions`, (route) => route.fulfill({ json: [MODULE_PATH] }));
    await p.route(`${origin}${MODULE_PATH}`, (route) =>
      route.fulfill({
        status: 200,
        contentType: 'text/javascript',
        body: readFileSync(CUSTOM_NODE_MODULE, 'utf8'),
      }),
    );
    await p.addInitScript(
      `window.__settings = ${JSON.stringify({ 'ComfyQueue.Address': base, 'ComfyQueue.Token': TOKEN })};`,
    );
    await p.goto(`${origin}/`);
    await p.waitForFunction('window.__ready === true || window.__error');
    assert.equal(await p.evaluate('window.__error ?? null'), null);
    // While requests are intercepted, Playwright answers CORS preflights itself: stop, so that the
    // browser's own preflights reach comfy-queue from here on.
    await p.unrouteAll({ behavior: 'wait' });
    return p;
  }

  before(async () => {
    sim = await startSimulator({ port: 0, stepMs: 20 });
    const comfyOrigin = new URL(sim.url).origin;
    // The ComfyUI serving the page is also comfy-queue's worker, as on one machine.
    server = await startTestServer({
      comfyUrls: [sim.url],
      workerCapacity: 1,
      allowOrigins: [comfyOrigin],
      token: TOKEN,
    });
    base = server.url;
    browser = await launchBrowser(['--disable-features=LocalNetworkAccessChecks']);
    page = await openComfyUi(sim.url, postedToComfy);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await sim?.close();
  });

  test('Queue creates the job in comfy-queue, and its events reach the canvas once each', async () => {
    await setGraph(4, 11, 'queued from ComfyUI');
    await page.getByTestId('queue-button').click();
    const [answer] = await queuedCount(1);
    const id = answer!.prompt_id;

    const job = await completed(id);
    const clientId = await page.evaluate('window.comfyAPI.api.api.clientId');
    assert.equal(job.client_id, clientId, 'the job carries the page clientId');
    const full = (await cq('GET', `/api/pqueue/jobs/${id}`)).body;
    assert.deepEqual(full.workflow, workflow('queued from ComfyUI'));
    assert.equal(full.prompt['3'].inputs.seed, 11);

    const ofJob = (type: string) => async () => {
      const list = (await events()).filter((e) => e.type === type && e.detail?.prompt_id === id);
      return list.length ? list : undefined;
    };
    await until(ofJob('execution_success'), 'execution_success on the page');
    await until(
      async () =>
        (await events()).some((e) => e.type === 'executing' && e.detail === null) ? true : undefined,
      'the end of the prompt',
    );
    const all = await events();
    const count = (type: string) => all.filter((e) => e.type === type && e.detail?.prompt_id === id).length;
    assert.equal(count('execution_start'), 1);
    assert.equal(count('execution_success'), 1);
    assert.equal(count('executed'), 1, 'SaveImage output, once');
    assert.equal(count('progress'), all.filter((e) => e.type === 'progress').length);
    const steps = all
      .filter((e) => e.type === 'progress' && e.detail.prompt_id === id)
      .map((e) => e.detail.value);
    assert.deepEqual(steps, [1, 2, 3, 4]);
    const output = all.find((e) => e.type === 'executed' && e.detail.prompt_id === id)!.detail;
    assert.equal(output.output.images[0].type, 'output');
    assert.ok(
      all.some((e) => e.type === 'executing' && e.detail === '3'),
      'the sampler node was highlighted',
    );
    const previews = all.filter((e) => e.type === 'b_preview');
    assert.ok(previews.length > 0 && previews.every((p) => p.detail.size > 0), 'sampler previews as blobs');
    assert.ok(all.some((e) => e.type === 'b_preview_with_metadata' && e.detail.promptId === id));
    assert.deepEqual(postedToComfy, [], 'nothing was queued on the ComfyUI serving the page');
    assert.deepEqual(
      (await simExecutions(sim.url)).map((x) => x.prompt_id),
      [id],
      'the worker ran it under comfy-queue',
    );
  });

  test('Queue (Front) goes first; batch count and the shortcut queue too', async () => {
    await cq('POST', '/api/pqueue/pause');
    await setGraph(2, 21, 'back');
    await page.getByTestId('batch-count').fill('2');
    await page.getByTestId('queue-button').click();
    await queuedCount(3);
    await page.getByTestId('batch-count').fill('1');
    await setGraph(2, 22, 'shortcut');
    await page.locator('body').press('Control+Enter');
    await queuedCount(4);
    await setGraph(40, 23, 'front');
    await page.getByTestId('queue-front-button').click();
    const answers = await queuedCount(5);
    const [b1, b2, shortcut, front] = answers.slice(1).map((a) => a.prompt_id);

    const q = (await cq('GET', '/api/pqueue')).body;
    assert.deepEqual(
      q.pending.map((j: { prompt_id: string }) => j.prompt_id),
      [front, b1, b2, shortcut],
    );
    await page.getByTestId('action-bar-button').filter({ hasText: 'Persistent Queue' }).click();
    const panel = page.locator('#panel');
    await until(
      async () => ((await panel.getByTestId('job-card').count()) === 4 ? true : undefined),
      '4 cards',
    );
    await cq('POST', '/api/pqueue/resume');
    // The front job runs first: the canvas draws its relayed progress while the panel shows the rest waiting.
    await page.waitForFunction(
      (id) =>
        (globalThis as any).__events.some(
          (e: PageEvent) => e.type === 'progress' && e.detail.prompt_id === id && e.detail.value >= 3,
        ),
      front,
    );
    await panel.getByTestId('current-job').waitFor();
    await screenshot(page, '12-comfyui-direct-queue');
    for (const id of [front, b1, b2, shortcut]) await completed(id!);
    assert.deepEqual(postedToComfy, []);
  });

  test('a ComfyUI origin comfy-queue was not told to allow cannot queue there, and says why', async () => {
    // localhost and 127.0.0.1 are two origins; only the latter was given to --allow-origin.
    const other = sim.url.replace('127.0.0.1', 'localhost');
    const posted: string[] = [];
    const p = await openComfyUi(other, posted);
    try {
      const countsBefore = (await cq('GET', '/api/pqueue')).body.counts;
      await p.evaluate(([o, w]) => (globalThis as any).__setGraph(o, w), [
        t2iPrompt(2, 41),
        workflow('refused'),
      ] as const);
      await p.getByTestId('queue-button').click();
      await p.getByTestId('error-dialog').waitFor();
      await p
        .getByTestId('toast')
        .filter({ hasText: `--allow-origin ${new URL(other).origin}` })
        .first()
        .waitFor();
      assert.deepEqual(await p.evaluate('window.__queued'), []);
      assert.deepEqual(posted, [], 'not sent to ComfyUI instead');
      assert.deepEqual((await cq('GET', '/api/pqueue')).body.counts, countsBefore);
    } finally {
      await p.close();
    }
  });

  test('with comfy-queue stopped the page says so, and nothing is queued anywhere', async () => {
    const countsBefore = (await cq('GET', '/api/pqueue')).body.counts;
    const executions = (await simExecutions(sim.url)).length;
    const queuedBefore = (await queued()).length;
    const dataDir = server.dataDir;
    await server.close();

    const badge = page.getByTestId('sidebar-tab-badge');
    await badge.waitFor();
    assert.equal(await badge.textContent(), '!');
    await page.getByTestId('toast').filter({ hasText: 'comfy-queue cannot be reached' }).first().waitFor();

    await setGraph(2, 31, 'lost?');
    await page.getByTestId('queue-button').click();
    await page.getByTestId('error-dialog').filter({ hasText: 'comfy-queue cannot be reached' }).waitFor();
    await page.getByTestId('toast').filter({ hasText: 'Nothing was queued' }).waitFor();
    assert.equal((await queued()).length, queuedBefore);
    assert.deepEqual(postedToComfy, [], 'not sent to ComfyUI instead');
    assert.equal((await simExecutions(sim.url)).length, executions);

    // Back on the same address: the page reconnects by itself and says so.
    server = await startTestServer({
      comfyUrls: [sim.url],
      dataDir,
      workerCapacity: 1,
      token: TOKEN,
      allowOrigins: [new URL(sim.url).origin],
      port: Number(new URL(base).port),
    });
    await page.getByTestId('toast').filter({ hasText: 'comfy-queue is reachable again' }).waitFor();
    assert.equal(await page.getByTestId('sidebar-tab-badge').count(), 0);
    assert.deepEqual((await cq('GET', '/api/pqueue')).body.counts, countsBefore);
  });

  test('the setting turned off queues on ComfyUI itself', async () => {
    await page.evaluate(() =>
      (globalThis as any).comfyAPI.app.app.extensionManager.setting.set(
        'ComfyQueue.QueueToComfyQueue',
        false,
      ),
    );
    const n = (await queued()).length;
    await page.getByTestId('queue-button').click();
    const [answer] = (await queuedCount(n + 1)).slice(n);
    assert.equal(postedToComfy.length, 1);
    const history = await until(async () => {
      const r = await http('GET', `${sim.url}/history/${answer!.prompt_id}`);
      return Object.keys(r.body ?? {}).length ? r.body : undefined;
    }, 'ComfyUI to run it');
    assert.ok(history[answer!.prompt_id]);
    assert.equal((await cq('GET', `/api/pqueue/jobs/${answer!.prompt_id}`)).status, 404);
  });
});
