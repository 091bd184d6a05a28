import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { type RunningSimulator, startSimulator } from '../../src/sim/index.js';
import { launchBrowser, NO_BROWSER, screenshot } from '../helpers/browser.js';
import { http, startTestServer, t2iPrompt, until, waitForStatus } from '../helpers/harness.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

describe('history: the detail of a job, the list view, requeue', { skip: NO_BROWSER }, () => {
  let sim: RunningSimulator;
  let server: Server;
  let browser: Browser;
  let page: Page;
  const ids: Record<string, string> = {};

  async function run(name: string, prompt: unknown): Promise<void> {
    const r = await http('POST', `${server.url}/api/pqueue/jobs`, { name, prompt });
    assert.equal(r.status, 201, r.text);
    ids[name] = r.body.prompt_id;
    await waitForStatus(server.url, r.body.prompt_id, ['completed', 'failed']);
  }

  before(async () => {
    sim = await startSimulator({ stepMs: 15 });
    server = await startTestServer({ comfyUrls: [sim.url], workerCapacity: 1 });
    await run('quick cat', t2iPrompt(2, 111));
    await run('slow cat', t2iPrompt(30, 4242));
    await run('doomed', {
      '1': {
        class_type: 'FakeSampler',
        inputs: { seed: 1, steps: 4, width: 64, height: 64, step_seconds: 0.01, fail_at_step: 2 },
        _meta: { title: 'Breaks here' },
      },
      '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'doomed' } },
    });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${server.url}/dashboard/#/history`);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await sim?.close();
  });

  const row = (name: string) => page.locator(`[data-testid=history-item][data-id="${ids[name]}"]`);

  test('tiles show how long each job ran; newest first is by the time shown', async () => {
    await row('doomed').waitFor();
    assert.match(
      (await row('slow cat').getByTestId('history-duration').textContent()) ?? '',
      /^\d+(\.\d)?s$/,
    );
    const order = await page
      .getByTestId('history-item')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-id')));
    assert.deepEqual(order, [ids.doomed, ids['slow cat'], ids['quick cat']]);
  });

  test('the list view has columns, sorted by a click on a header', async () => {
    await page.getByTestId('history-view').click();
    await page.getByTestId('history-table').waitFor();
    await page.getByTestId('sort-ran').click();
    await until(
      async () =>
        (await page.getByTestId('history-item').first().getAttribute('data-id')) === ids['slow cat']
          ? true
          : undefined,
      'the longest run first',
    );
    await page.getByTestId('sort-ran').click();
    await until(
      async () =>
        (await page.getByTestId('history-item').last().getAttribute('data-id')) === ids['slow cat']
          ? true
          : undefined,
      'the longest run last',
    );
    await screenshot(page, 'history-list');
  });

  test('a completed job in full: parameters, times, worker, outputs to download, the workflow; Esc closes', async () => {
    await row('slow cat').click();
    const d = page.getByTestId('job-detail');
    await d.getByTestId('detail-seed').filter({ hasText: '4242' }).waitFor();
    assert.equal(await d.getByTestId('detail-steps').textContent(), '30');
    assert.match((await d.getByTestId('detail-sampler').textContent()) ?? '', /euler · normal/);
    assert.match((await d.getByTestId('detail-models').textContent()) ?? '', /v1-5-pruned-emaonly/);
    assert.equal(await d.getByTestId('detail-positive').textContent(), 'a cat');
    assert.equal(await d.getByTestId('detail-worker').textContent(), 'w1');
    assert.match((await d.getByTestId('detail-ran').textContent()) ?? '', /^\d+(\.\d)?s$/);
    const link = d.getByTestId('download-output').first();
    const href = (await link.getAttribute('href')) ?? '';
    const file = await fetch(new URL(href, server.url));
    assert.equal(file.status, 200);
    assert.match(file.headers.get('content-type') ?? '', /image\/png/);
    const wf = await fetch(
      new URL((await d.getByTestId('download-workflow').getAttribute('href')) ?? '', server.url),
    );
    assert.equal((await wf.json())['3'].inputs.seed, 4242);
    await screenshot(page, 'history-detail-completed');
    await page.keyboard.press('Escape');
    await d.waitFor({ state: 'detached' });
  });

  test('requeue with a new seed queues the same graph with another seed', async () => {
    await row('slow cat').click();
    await page.getByTestId('requeue-new').click();
    const note = page.getByTestId('detail-note');
    await note.filter({ hasText: 'new seed' }).waitFor();
    const id = (await note.getAttribute('data-job')) ?? '';
    const again = (await http('GET', `${server.url}/api/pqueue/jobs/${id}`)).body;
    assert.equal(again.requeued_from, ids['slow cat']);
    assert.notEqual(again.prompt['3'].inputs.seed, 4242);
    await page.keyboard.press('Escape');
  });

  test('a failed job: the node that failed, its message and the traceback', async () => {
    await row('doomed').click();
    const d = page.getByTestId('job-detail');
    const err = d.getByTestId('error-node');
    await err.waitFor();
    assert.match((await err.textContent()) ?? '', /#1 FakeSampler “Breaks here”.*deliberate failure/is);
    assert.ok(((await d.getByTestId('traceback').textContent()) ?? '').length > 20);
    await screenshot(page, 'history-detail-failed');
    await page.keyboard.press('Escape');
    await d.waitFor({ state: 'detached' });
  });

  test('stats per worker over a window, and the header shows the worker’s VRAM', async () => {
    await page.getByTestId('nav-stats').click();
    const w1 = page.locator('[data-testid=worker-stat][data-worker=w1]');
    await w1.waitFor();
    const cells = await w1.locator('td').allTextContents();
    // Three jobs ran, one failed; a requeued one may have finished meanwhile.
    assert.ok(Number(cells[1]) >= 2, cells.join(' | '));
    assert.equal(cells[2], '1');
    assert.match(cells[4] ?? '', /^\d+(\.\d)?s$/);
    await page.getByTestId('window-7d').click();
    await page.locator('[data-testid=window-7d][aria-checked=true]').waitFor();
    const vram = page.getByTestId('gauge-VRAM w1');
    await vram.waitFor();
    assert.match((await vram.textContent()) ?? '', /\d+%/);
    await screenshot(page, 'stats');
  });

  test('the theme follows the system, and the switch overrides it', async () => {
    const root = page.locator('.cq-root');
    await page.emulateMedia({ colorScheme: 'light' });
    await page.locator('.cq-root[data-theme=light]').waitFor();
    await page.getByTestId('theme-toggle').filter({ hasText: 'Auto (light)' }).waitFor();
    await page.getByTestId('nav-history').click();
    await row('slow cat').waitFor();
    await screenshot(page, 'theme-light');
    await page.getByTestId('theme-toggle').click();
    assert.equal(await root.getAttribute('data-theme'), 'light');
    await page.getByTestId('theme-toggle').click();
    await page.locator('.cq-root[data-theme=dark]').waitFor();
    await page.reload();
    await page.locator('.cq-root[data-theme=dark]').waitFor();
    await page.getByTestId('theme-toggle').filter({ hasText: 'Dark' }).waitFor();
    await page.getByTestId('theme-toggle').click();
    await page.locator('.cq-root[data-theme=light]').waitFor();
  });
});
