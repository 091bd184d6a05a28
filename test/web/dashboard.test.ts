import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page, WebSocketRoute } from 'playwright-core';
import { startSimulator } from '../../src/sim/index.js';
import { launchBrowser, NO_BROWSER, screenshot } from '../helpers/browser.js';
import { http, simExecutions, startTestServer, t2iPrompt, until } from '../helpers/harness.js';

type Sim = Awaited<ReturnType<typeof startSimulator>>;
type Server = Awaited<ReturnType<typeof startTestServer>>;

const XSS = '<img src=x onerror=alert(1)>';

describe('the dashboard in a browser', { skip: NO_BROWSER }, () => {
  let sim: Sim;
  let server: Server;
  let browser: Browser;
  let page: Page;
  let base: string;
  let alerted = false;
  let cut = false;
  const sockets: WebSocketRoute[] = [];
  const ids: Record<string, string> = {};

  async function enqueue(name: string, steps = 2): Promise<string> {
    const r = await http('POST', `${base}/api/pqueue/jobs`, {
      name,
      prompt: t2iPrompt(steps, steps * 7 + name.length),
    });
    assert.equal(r.status, 201, r.text);
    ids[name] = r.body.prompt_id;
    return r.body.prompt_id;
  }
  const job = async (id: string) => (await http('GET', `${base}/api/pqueue/jobs/${id}`)).body;
  const queue = async () => (await http('GET', `${base}/api/pqueue`)).body;
  const card = (name: string) =>
    page.getByTestId('job-card').filter({ has: page.getByText(name, { exact: true }) });

  before(async () => {
    sim = await startSimulator({ port: 0, stepMs: 60 });
    server = await startTestServer({ comfyUrls: [sim.url], workerCapacity: 1 });
    base = server.url;
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('dialog', (d) => {
      alerted = true;
      void d.dismiss();
    });
    await page.routeWebSocket(/\/api\/pqueue\/ws/, (ws) => {
      if (cut) {
        ws.close();
        return;
      }
      ws.connectToServer();
      sockets.push(ws);
    });
    await page.goto(`${base}/dashboard/?poll=1000`);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await sim?.close();
  });

  test('starts LIVE with the empty states', async () => {
    await page.getByTestId('live').filter({ hasText: 'LIVE' }).waitFor();
    await page.getByText('No jobs running').waitFor();
    await page.getByText('No jobs in queue').waitFor();
    await screenshot(page, '01-queue-empty');
  });

  test('pause from the UI pauses the server', async () => {
    await page.getByTestId('pause-toggle').click();
    await until(async () => ((await queue()).paused ? true : undefined), 'the queue to pause');
    await page.getByTestId('paused-note').waitFor();
  });

  test('new jobs appear as cards; a hostile name is shown as text', async () => {
    for (const name of ['alpha', 'bravo']) await enqueue(name);
    await enqueue('charlie', 30);
    await enqueue(XSS);
    await page.getByTestId('job-card').nth(3).waitFor();
    await card(XSS).waitFor();
    assert.equal(await page.locator('img[src="x"]').count(), 0);
    assert.equal(alerted, false);
  });

  test('rename, priority up and down from the UI change the server', async () => {
    await card('alpha').getByTestId('rename').click();
    await page.getByTestId('rename-input').fill('alpha renamed');
    await page.getByTestId('rename-input').press('Enter');
    await until(
      async () => ((await job(ids.alpha!)).name === 'alpha renamed' ? true : undefined),
      'the rename',
    );
    await card('alpha renamed').waitFor();

    // Up and down move by one place, not by priority.
    await card('bravo').getByTestId('move-up').click();
    await until(
      async () => ((await queue()).pending[0]?.prompt_id === ids.bravo ? true : undefined),
      'bravo first',
    );
    await page.getByTestId('job-card').first().filter({ hasText: 'bravo' }).waitFor();
    assert.equal((await job(ids.bravo!)).priority, 0);
    await card('bravo').getByTestId('move-down').click();
    await until(
      async () => ((await queue()).pending[1]?.prompt_id === ids.bravo ? true : undefined),
      'bravo second',
    );
  });

  test('delete one, several selected, and cancel, from the UI', async () => {
    for (const name of ['delta', 'echo', 'foxtrot', 'golf']) await enqueue(name);
    await card('golf').waitFor();
    await card('delta').getByTestId('delete').click();
    await page.getByTestId('confirm-yes').click();
    await card('echo').getByRole('checkbox').check();
    await card('foxtrot').getByRole('checkbox').check();
    await page.getByTestId('delete-selected').click();
    await page.getByTestId('confirm-yes').click();
    for (const name of ['delta', 'echo', 'foxtrot'])
      await until(
        async () =>
          (await http('GET', `${base}/api/pqueue/jobs/${ids[name]}`)).status === 404 ? true : undefined,
        `${name} deleted`,
      );
    await card('golf').getByTestId('cancel').click();
    await until(
      async () => ((await job(ids.golf!)).status === 'cancelled' ? true : undefined),
      'golf cancelled',
    );
    await card('golf').waitFor({ state: 'detached' });
    await until(
      async () => ((await page.getByTestId('job-card').count()) === 4 ? true : undefined),
      'four cards',
    );
    await screenshot(page, '02-queue-cards');
  });

  test('a click on a card opens the full record', async () => {
    await card('charlie').click();
    const detail = page.getByTestId('job-detail');
    await detail.getByText(ids.charlie!).waitFor();
    await detail.getByTestId('detail-steps').filter({ hasText: '30' }).waitFor();
    await detail.getByText('Every input of the graph').click();
    await detail.getByText('KSampler #3').first().waitFor();
    await screenshot(page, '03-job-detail');
    await page.keyboard.press('Escape');
    await detail.waitFor({ state: 'detached' });
  });

  test('dragging the last card to the top makes it run next', async () => {
    const cards = page.getByTestId('job-card');
    assert.equal(await cards.last().getAttribute('data-id'), ids[XSS]);
    await card(XSS).dragTo(cards.first(), { targetPosition: { x: 40, y: 4 } });
    await until(
      async () => ((await queue()).pending[0]?.prompt_id === ids[XSS] ? true : undefined),
      'the new order',
    );
    await until(
      async () => ((await cards.first().getAttribute('data-id')) === ids[XSS] ? true : undefined),
      'the card on top',
    );
    // Then charlie (the long one) second, so the panel has a running job to show.
    await card('charlie').dragTo(cards.nth(1), { targetPosition: { x: 40, y: 4 } });
    await until(
      async () => ((await queue()).pending[1]?.prompt_id === ids.charlie ? true : undefined),
      'charlie second',
    );
  });

  test('resume from the UI: the dragged job runs first and the current job panel follows the progress', async () => {
    await page.getByTestId('pause-toggle').click();
    await until(async () => ((await queue()).paused ? undefined : true), 'the queue to resume');
    await until(
      async () => ((await simExecutions(sim.url))[0]?.prompt_id === ids[XSS] ? true : undefined),
      'the first execution',
    );

    const panel = page.getByTestId('current-job').filter({ hasText: 'charlie' });
    await panel.waitFor();
    await panel.getByTestId('toggle-preview').click();
    const step = panel.getByTestId('current-step');
    await until(
      async () => (/Step \d+\/30/.test((await step.textContent()) ?? '') ? true : undefined),
      'a step',
    );
    const first = (await step.textContent()) ?? '';
    await until(async () => {
      const now = (await step.textContent()) ?? '';
      return now !== first && /Step \d+\/30/.test(now) ? true : undefined;
    }, 'the step to move');
    await panel.getByTestId('live-preview').waitFor();
    await screenshot(page, '04-current-job');
    await page.getByText('No jobs running').waitFor({ timeout: 30_000 });
    await page.getByText('No jobs in queue').waitFor();
    const order = (await simExecutions(sim.url)).map((e) => e.prompt_id);
    assert.deepEqual(order.slice(0, 2), [ids[XSS], ids.charlie]);
  });

  test('history shows the finished jobs and the filters narrow it', async () => {
    await page.getByTestId('nav-history').click();
    const items = page.getByTestId('history-item');
    await page.locator(`[data-testid=history-item][data-id="${ids.charlie}"]`).waitFor();
    await until(async () => ((await items.count()) === 5 ? true : undefined), 'five finished jobs');
    assert.equal(await page.locator('img[src="x"]').count(), 0);
    await screenshot(page, '05-history');

    await page.getByTestId('chip-cancelled').click();
    await until(async () => ((await items.count()) === 1 ? true : undefined), 'one cancelled job');
    await page.locator(`[data-testid=history-item][data-id="${ids.golf}"]`).waitFor();
    await page.getByTestId('chip-cancelled').click();
    await page.getByTestId('history-search').fill('renamed');
    await until(async () => ((await items.count()) === 1 ? true : undefined), 'one match');
    await page.locator(`[data-testid=history-item][data-id="${ids.alpha}"]`).waitFor();
    await page.getByTestId('history-search').fill('');
    await until(async () => ((await items.count()) === 5 ? true : undefined), 'all again');
  });

  test('the LIVE indicator falls back to polling when the websocket is cut, and comes back', async () => {
    await page.getByTestId('nav-queue').click();
    await page.getByTestId('live').filter({ hasText: 'LIVE' }).waitFor();
    cut = true;
    for (const s of sockets.splice(0)) await s.close();
    const live = page.getByTestId('live');
    await page.locator('[data-testid=live][data-state=fallback]').waitFor();
    await live.filter({ hasText: 'POLLING' }).waitFor();
    const polled = page.waitForRequest((r) => r.url().includes('/api/admin/queue'));
    await polled;
    await screenshot(page, '06-fallback-polling');
    // A job queued meanwhile shows up through the polls.
    await http('POST', `${base}/api/pqueue/pause`);
    await enqueue('while offline');
    await card('while offline').waitFor();
    cut = false;
    await page.locator('[data-testid=live][data-state=live]').waitFor({ timeout: 20_000 });
    await live.filter({ hasText: 'LIVE' }).waitFor();
  });

  test('workers and stats screens, and a phone-sized queue', async () => {
    await page.getByTestId('nav-workers').click();
    await page.getByTestId('worker').first().waitFor();
    await page.getByTestId('worker').getByText('online').waitFor();
    await screenshot(page, '07-workers');
    await page.getByTestId('nav-stats').click();
    await page.getByTestId('count-completed').filter({ hasText: '4' }).waitFor();
    await page.getByTestId('throughput-chart').waitFor();
    await screenshot(page, '08-stats');
    await page.getByTestId('nav-queue').click();
    await page.setViewportSize({ width: 390, height: 844 });
    await card('while offline').waitFor();
    await screenshot(page, '09-queue-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
  });
});
