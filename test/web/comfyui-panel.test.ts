import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { readPngText } from '../../src/media/png.js';
import { startSimulator } from '../../src/sim/index.js';
import { launchBrowser, NO_BROWSER, screenshot } from '../helpers/browser.js';
import { http, ROOT, startTestServer, t2iPrompt, until, waitForStatus } from '../helpers/harness.js';

type Sim = Awaited<ReturnType<typeof startSimulator>>;
type Server = Awaited<ReturnType<typeof startTestServer>>;

const FIXTURE = readFileSync(join(ROOT, 'test/fixtures/comfyui-frontend/index.html'), 'utf8');
const WORKFLOW = {
  id: '6f1c9a52-0000-4000-8000-000000000001',
  last_node_id: 9,
  last_link_id: 9,
  nodes: [{ id: 9, type: 'SaveImage', pos: [0, 0], size: [200, 100], widgets_values: ['ComfyUI'] }],
  links: [],
  groups: [],
  config: {},
  extra: { note: 'café' },
  version: 0.4,
};

describe('the Persistent Queue panel inside ComfyUI (fixture of the extension API)', {
  skip: NO_BROWSER,
}, () => {
  let sim: Sim;
  let server: Server;
  let browser: Browser;
  let page: Page;
  let base: string;
  let jobId = '';

  before(async () => {
    sim = await startSimulator({ port: 0, stepMs: 20 });
    server = await startTestServer({ comfyUrls: [sim.url], workerCapacity: 1 });
    base = server.url;
    // The fixture is fulfilled by page.route, so chromium cannot tell it comes from the local network.
    browser = await launchBrowser(['--disable-features=LocalNetworkAccessChecks']);
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    // The fixture page is served at comfy-queue's origin, as ComfyUI's UI is when opened through it.
    await page.route(`${base}/comfyui-fixture/`, (route) =>
      route.fulfill({ status: 200, contentType: 'text/html', body: FIXTURE }),
    );
    await http('POST', `${base}/api/pqueue/pause`);
    await page.goto(`${base}/comfyui-fixture/`);
    await page.waitForFunction('window.__ready === true || window.__error');
    assert.equal(await page.evaluate('window.__error ?? null'), null);
    // comfy-queue merged its module into the worker's /api/extensions answer.
    const list = (await page.evaluate('window.__extensionList')) as string[];
    assert.ok(list.includes('/extensions/comfy-queue/main.js'), JSON.stringify(list));
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await sim?.close();
  });

  test('the sidebar tab and the toolbar button appear, and the panel renders the queue', async () => {
    await page.getByTestId('sidebar-tab').filter({ hasText: 'Persistent Queue' }).waitFor();
    const button = page.getByTestId('action-bar-button').filter({ hasText: 'Persistent Queue' });
    await button.waitFor();
    const r = await http('POST', `${base}/api/pqueue/jobs`, {
      name: 'from the panel',
      prompt: t2iPrompt(3, 5),
      workflow: WORKFLOW,
    });
    jobId = r.body.prompt_id;
    await button.click();
    const panel = page.locator('#panel');
    await panel.getByTestId('job-card').filter({ hasText: 'from the panel' }).waitFor();
    await panel.getByTestId('live').filter({ hasText: 'LIVE' }).waitFor();
    assert.ok(
      Number(await page.evaluate('window.__fetchApiCalls ?? 0')) > 1,
      'the panel calls through api.fetchApi',
    );
    await screenshot(page, '10-comfyui-panel-queue');
  });

  test('a history thumbnail drags a PNG whose text chunks hold the workflow', async () => {
    await http('POST', `${base}/api/pqueue/resume`);
    const panel = page.locator('#panel');
    await panel.getByText('No jobs in queue').waitFor();
    await panel.getByText('No jobs running').waitFor();
    await panel.getByTestId('nav-history').click();
    const thumb = panel.locator(`[data-testid=history-item][data-id="${jobId}"] [data-testid=history-thumb]`);
    await thumb.hover();
    const b64 = await until(async () => {
      const out = (await thumb.evaluate(async (el: any) => {
        const dt = new (globalThis as any).DataTransfer();
        el.dispatchEvent(new (globalThis as any).DragEvent('dragstart', { bubbles: true, dataTransfer: dt }));
        const file = dt.files[0];
        if (!file) return null;
        const bytes = new Uint8Array(await file.arrayBuffer());
        let s = '';
        for (const b of bytes) s += String.fromCharCode(b);
        return { name: file.name, type: file.type, b64: btoa(s) };
      })) as { name: string; type: string; b64: string } | null;
      return out ?? undefined;
    }, 'the drag to carry a file');
    assert.equal(b64.type, 'image/png');
    const texts = readPngText(Buffer.from(b64.b64, 'base64'));
    assert.deepEqual(JSON.parse(texts.workflow!), WORKFLOW);
    assert.equal(JSON.parse(texts.prompt!)['3'].class_type, 'KSampler');
    assert.ok(!texts.workflow!.includes('é'), 'the JSON is ASCII, as ComfyUI writes it');

    await thumb.dragTo(page.getByTestId('canvas'));
    await screenshot(page, '11-comfyui-panel-history');
  });

  test("a job's detail opens its workflow on ComfyUI's canvas", async () => {
    const panel = page.locator('#panel');
    await panel.locator(`[data-testid=history-item][data-id="${jobId}"] [data-testid=history-thumb]`).click();
    await panel.getByTestId('history-preview').getByTestId('open-detail').click();
    const detail = panel.getByTestId('job-detail');
    await detail.getByTestId('open-in-comfyui').click();
    await page.waitForFunction('window.__loaded !== undefined');
    await screenshot(page, '12-comfyui-panel-detail');
    assert.deepEqual(await page.evaluate('window.__loaded'), { kind: 'ui', workflow: WORKFLOW });
    await page.keyboard.press('Escape');
    await detail.waitFor({ state: 'detached' });
    assert.equal(await panel.getByTestId('history-preview').count(), 0);
  });

  test("opened through comfy-queue, the Queue button is ComfyUI's own and reaches comfy-queue", async () => {
    const own = await page.evaluate(
      '(() => { const api = window.comfyAPI.api.api; return api.queuePrompt === Object.getPrototypeOf(api).queuePrompt; })()',
    );
    assert.equal(own, true, 'the extension leaves api.queuePrompt alone');
    await page.evaluate(([o, w]) => (globalThis as any).__setGraph(o, w), [
      t2iPrompt(2, 9),
      WORKFLOW,
    ] as const);
    await page.getByTestId('queue-button').click();
    const answer = await until(
      async () =>
        ((await page.evaluate('window.__queued[0]')) as { prompt_id: string } | undefined) ?? undefined,
      'the queue answer',
    );
    const job = await waitForStatus(base, answer.prompt_id, ['completed']);
    assert.equal(job.client_id, await page.evaluate('window.comfyAPI.api.api.clientId'));
  });
});
