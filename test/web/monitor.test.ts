import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startSimulator } from '../../src/sim/index.js';
import { launchBrowser, NO_BROWSER, screenshot } from '../helpers/browser.js';
import { http, startTestServer, t2iPrompt, until } from '../helpers/harness.js';

type Sim = Awaited<ReturnType<typeof startSimulator>>;
type Server = Awaited<ReturnType<typeof startTestServer>>;

describe('the monitor tells the truth', { skip: NO_BROWSER }, () => {
  let sim: Sim;
  let server: Server;
  let browser: Browser;
  let page: Page;
  const ids: Record<string, string> = {};

  async function enqueue(name: string, steps: number): Promise<void> {
    const r = await http('POST', `${server.url}/api/pqueue/jobs`, {
      name,
      prompt: t2iPrompt(steps, steps + name.length),
    });
    assert.equal(r.status, 201, r.text);
    ids[name] = r.body.prompt_id;
  }
  const percent = async () =>
    Number(((await page.getByTestId('current-percent').textContent()) ?? '').replace('%', ''));
  const stepOf = async () =>
    Number(/Step (\d+)\//.exec((await page.getByTestId('current-step').textContent()) ?? '')?.[1] ?? -1);

  before(async () => {
    sim = await startSimulator({ port: 0, stepMs: 120 });
    server = await startTestServer({ comfyUrls: [sim.url], workerCapacity: 2 });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await sim?.close();
  });

  test('a job waiting in the worker’s own queue reads "next on w1", each job appears once, counts match', async () => {
    await http('POST', `${server.url}/api/pqueue/pause`);
    await enqueue('long render', 200);
    await enqueue('second', 200);
    await enqueue('third', 5);
    await page.goto(`${server.url}/dashboard/`);
    await page.getByTestId('live').filter({ hasText: 'LIVE' }).waitFor();
    await http('POST', `${server.url}/api/pqueue/resume`);
    await page.getByTestId('current-job').filter({ hasText: 'long render' }).waitFor();
    const waiting = page.getByTestId('waiting-job').filter({ hasText: 'second' });
    await waiting.getByTestId('waiting-line').filter({ hasText: 'next on w1' }).waitFor();
    await page.getByTestId('job-card').filter({ hasText: 'third' }).waitFor();
    // Each job once: the running one as its panel only, the others as one card each.
    assert.equal(await page.getByTestId('current-job').filter({ hasText: 'long render' }).count(), 1);
    assert.equal(await page.locator(`[data-id="${ids['long render']}"]`).count(), 0);
    for (const name of ['second', 'third'])
      assert.equal(await page.locator(`[data-id="${ids[name]}"]`).count(), 1, name);
    assert.equal(await page.getByTestId('current-job').count(), 1);
    await page.getByTestId('running-total').filter({ hasText: '1 running · 1 next on workers' }).waitFor();
    await page.getByTestId('pending-total').filter({ hasText: '1 pending' }).waitFor();
    assert.equal(await page.getByTestId('job-card').count(), 1);
  });

  test('the percentage rises with the steps', async () => {
    await until(async () => ((await stepOf()) >= 2 ? true : undefined), 'a step');
    const a = { step: await stepOf(), pct: await percent() };
    await until(async () => ((await stepOf()) >= a.step + 5 ? true : undefined), 'five more steps');
    const b = { step: await stepOf(), pct: await percent() };
    assert.ok(b.pct > a.pct, `${a.pct}% at step ${a.step}, ${b.pct}% at step ${b.step}`);
    // A 200-step sampler is most of the work: the percent is close to the step fraction.
    assert.ok(Math.abs(b.pct - (100 * b.step) / 200) < 6, `${b.pct}% at step ${b.step}/200`);
    await screenshot(page, 'monitor-running-and-next');
  });

  test('the running job cancelled: the one next on w1 starts and shows as running', async () => {
    await page.getByTestId('current-job').filter({ hasText: 'long render' }).getByTestId('cancel').click();
    const panel = page.getByTestId('current-job').filter({ hasText: 'second' });
    await panel.waitFor();
    await until(async () => ((await stepOf()) >= 1 ? true : undefined), 'a step of the second job');
    await page.getByTestId('waiting-job').filter({ hasText: 'third' }).waitFor();
    assert.equal(await page.getByTestId('current-job').count(), 1);
  });

  test('a worker that dies mid-job: an offline banner, the job marked stale and waiting for it', async () => {
    await sim.close();
    await page.getByTestId('offline-banner').filter({ hasText: 'w1 is offline since' }).waitFor();
    const panel = page.getByTestId('current-job').filter({ hasText: 'second' });
    await panel
      .getByTestId('stale-note')
      .filter({ hasText: /waiting for w1 to come back since \d/ })
      .waitFor();
    assert.equal(await panel.getAttribute('data-stale'), 'true');
    assert.equal((await panel.getByTestId('current-eta').textContent())?.trim(), 'ETA –');
    // A job handed to w1 but not started never reads "next on w1" while w1 is away.
    assert.equal(await page.getByTestId('waiting-line').filter({ hasText: 'next on w1' }).count(), 0);
    await screenshot(page, 'monitor-worker-offline');
  });

  test('the server stopped: "reconnecting…", the last state kept and marked stale; started again: it recovers', async () => {
    const port = Number(new URL(server.url).port);
    const dataDir = server.dataDir;
    await server.close();
    await page.getByTestId('live').filter({ hasText: 'RECONNECTING…' }).waitFor({ timeout: 20_000 });
    await page.getByTestId('reconnecting').waitFor();
    assert.equal(await page.locator('main[data-stale=true]').count(), 1);
    // The last state stays on screen, not "No jobs in queue".
    await page.locator(`[data-id="${ids.third}"]`).waitFor();
    assert.equal(await page.getByText('Failed to fetch').count(), 0);
    await screenshot(page, 'monitor-reconnecting');
    sim = await startSimulator({ port: 0, stepMs: 20 });
    server = await startTestServer({ comfyUrls: [sim.url], workerCapacity: 2, port, dataDir });
    await page.getByTestId('live').filter({ hasText: 'LIVE' }).waitFor({ timeout: 30_000 });
    await page.getByTestId('reconnecting').waitFor({ state: 'detached' });
    assert.equal(await page.locator('main[data-stale=true]').count(), 0);
  });
});
