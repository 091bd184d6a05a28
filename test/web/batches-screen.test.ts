import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { type RunningSimulator, startSimulator } from '../../src/sim/index.js';
import { launchBrowser, NO_BROWSER, screenshot } from '../helpers/browser.js';
import { http, startTestServer, t2iPrompt, until } from '../helpers/harness.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

describe('the Batches screen in a browser, with 100,000 items', { skip: NO_BROWSER }, () => {
  const sims: RunningSimulator[] = [];
  let server: Server;
  let browser: Browser;
  let page: Page;
  let batchId: number;

  const batch = async () => (await http('GET', `${server.url}/api/pqueue/batches/${batchId}`)).body;

  before(async () => {
    for (let i = 0; i < 2; i++) sims.push(await startSimulator({ port: 0, stepMs: 1 }));
    server = await startTestServer({ comfyUrls: sims.map((s) => s.url) });
    const r = await http('POST', `${server.url}/api/pqueue/batches`, {
      name: 'hundred-k',
      prompt: t2iPrompt(1, 0),
      count: 100_000,
      seed: { start: 1 },
      items: Array.from({ length: 100_000 }, (_, i) => ({
        colour: ['red', 'teal', 'plum'][i % 3],
        n: i + 1,
      })),
      bindings: { colour: '6.inputs.text' },
    });
    assert.equal(r.status, 201, r.text);
    batchId = r.body.id;
    await until(async () => ((await batch()).tracker.complete >= 30 ? true : undefined), 'some items done');
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await page.goto(`${server.url}/dashboard/#/batches`);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    for (const s of sims) await s.close();
  });

  test('renders the batch, and only the visible part of its grid', async () => {
    await page.getByTestId('batch-row').filter({ hasText: 'hundred-k' }).waitFor();
    await page.getByTestId('batch-cell').first().waitFor();
    const cellsInPage = await page.getByTestId('batch-cell').count();
    assert.ok(cellsInPage > 10 && cellsInPage < 500, `${cellsInPage} cells in the page`);
    await page.getByTestId('grid-total').filter({ hasText: '100000 items' }).waitFor();
    // Far down the grid: the cells there load.
    await page.getByTestId('batch-grid').evaluate((el) => {
      el.scrollTop = el.scrollHeight / 2;
    });
    await until(async () => {
      const idx = await page.getByTestId('batch-cell').first().getAttribute('data-index');
      return idx && Number(idx) > 40_000 ? true : undefined;
    }, 'the middle of the grid to load');
  });

  test('follows the batch live over the websocket, without polling it, and charts its throughput', async () => {
    const batchReads: string[] = [];
    const tileReads: string[] = [];
    page.on('request', (r) => {
      const path = new URL(r.url()).pathname;
      if (path.startsWith('/api/pqueue/batches')) batchReads.push(`${r.method()} ${path}`);
      else if (path === '/api/pqueue/tracker/jobs') tileReads.push(r.url());
    });
    const chart = page.getByTestId('batch-throughput').getByTestId('throughput-chart');
    await chart.waitFor();
    await page.getByTestId('span-hour').click();
    await until(
      async () => ((await chart.locator('rect').count()) === 120 ? true : undefined),
      'sixty one-minute bars, two parts each',
    );
    const barHeights = await chart
      .locator('rect')
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute('height'))));
    assert.ok(
      barHeights.some((h) => h > 0),
      'some bar has items',
    );
    await page.getByTestId('span-life').click();

    // The grid at the items being worked on now: their tiles change while the test watches.
    const b = await batch();
    const frontier = b.counts.completed + b.counts.failed + b.counts.in_progress;
    await page.getByTestId('batch-grid').evaluate((el, at) => {
      const columns = Math.max(1, Math.floor(el.clientWidth / 92));
      el.scrollTop = Math.floor(at / columns) * 92;
    }, frontier);
    const statusesOf = () =>
      page
        .getByTestId('batch-cell')
        .evaluateAll((els) =>
          Object.fromEntries(els.map((e) => [e.getAttribute('data-index'), e.getAttribute('data-status')])),
        );
    let before: Record<string, string | null> = {};
    await until(async () => {
      before = await statusesOf();
      return Object.values(before).some((s) => s === 'inactive' || s === 'working') ? true : undefined;
    }, 'unfinished items in view');

    const completeChip = page.getByTestId('filter-complete').locator('b');
    const shown = async () => Number(await completeChip.textContent());
    const first = await shown();
    batchReads.length = 0;
    tileReads.length = 0;
    await until(
      async () => ((await shown()) >= first + 10 ? true : undefined),
      'the count on screen to grow',
      60_000,
    );
    await until(async () => {
      const now = await statusesOf();
      return Object.entries(before).some(([i, s]) => s !== 'complete' && now[i] === 'complete')
        ? true
        : undefined;
    }, 'a tile in view to turn complete');
    assert.deepEqual(batchReads, [], 'the batch is not read again while its items finish');
    assert.ok(tileReads.length > 0, 'changed tiles are read');
    assert.ok(
      tileReads.every((u) => new URL(u).searchParams.has('from')),
      `only the changed tiles are read: ${tileReads.find((u) => !new URL(u).searchParams.has('from'))}`,
    );
    await screenshot(page, 'batches-live');
  });

  test('filters by two statuses at once', async () => {
    await page.getByTestId('filter-complete').click();
    await page.getByTestId('filter-working').click();
    await until(async () => {
      const statuses = await page
        .getByTestId('batch-cell')
        .evaluateAll((els) => els.map((e) => e.getAttribute('data-status')));
      return statuses.length > 0 && statuses.every((s) => s === 'complete' || s === 'working')
        ? true
        : undefined;
    }, 'only complete and working items');
    const shown = Number((await page.getByTestId('grid-total').textContent())!.split(' ')[0]);
    assert.ok(shown < 100_000 && shown > 0);
  });

  test('flags an item from its preview, which shows its traits', async () => {
    await page.getByTestId('filter-working').click(); // complete only
    const cell = page.locator('[data-testid=batch-cell][data-status=complete]').first();
    const index = Number(await cell.getAttribute('data-index'));
    await cell.click();
    await page.getByTestId('batch-preview').waitFor();
    assert.deepEqual(await page.getByTestId('preview-trait').allTextContents(), [
      ['red', 'teal', 'plum'][(index - 1) % 3]!,
      String(index),
    ]);
    await page.getByTestId('flag-items').click();
    await page.getByTestId('preview-status').filter({ hasText: 'flagged' }).waitFor();
    const item = await http('GET', `${server.url}/preview/${batchId}:${index}`);
    assert.equal(item.body.status, 'flagged');
  });

  test('stays responsive while items finish', async () => {
    // Items finishing (their outputs are collected after: the tracker's `complete` follows).
    const before = (await batch()).counts.completed;
    await until(
      async () => ((await batch()).counts.completed > before + 20 ? true : undefined),
      'more items done',
      60_000,
    );
    await page.getByTestId('filter-complete').click(); // back to every item
    await page.getByTestId('grid-total').filter({ hasText: '100000 items' }).waitFor();
    await page.getByTestId('batch-search').fill('plum');
    await until(async () => {
      const cells = await page
        .getByTestId('batch-cell')
        .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-index'))));
      return cells.length > 0 && cells.every((i) => i % 3 === 0) ? true : undefined;
    }, 'the search to show plum items only');
    await screenshot(page, 'batches-screen');
  });
});
