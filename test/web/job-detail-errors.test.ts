import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { type RunningSimulator, startSimulator } from '../../src/sim/index.js';
import { launchBrowser, NO_BROWSER, screenshot } from '../helpers/browser.js';
import { http, startTestServer, waitForStatus } from '../helpers/harness.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

describe('a failed job’s detail in the dashboard', { skip: NO_BROWSER }, () => {
  let sim: RunningSimulator;
  let server: Server;
  let browser: Browser;
  let page: Page;

  before(async () => {
    sim = await startSimulator({ stepMs: 5 });
    server = await startTestServer({ comfyUrls: [sim.url] });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await sim?.close();
  });

  test('shows the failing node (id, class, title), its message and the traceback', async () => {
    const r = await http('POST', `${server.url}/api/pqueue/jobs`, {
      name: 'doomed',
      prompt: {
        '1': {
          class_type: 'FakeSampler',
          inputs: { seed: 1, steps: 4, width: 64, height: 64, step_seconds: 0.01, fail_at_step: 2 },
          _meta: { title: 'Breaks here' },
        },
        '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'doomed' } },
      },
    });
    assert.equal(r.status, 201, r.text);
    const failed = await waitForStatus(server.url, r.body.prompt_id, ['failed', 'completed']);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error_nodes[0].node_id, '1');

    await page.goto(`${server.url}/dashboard/`);
    await page.getByTestId('nav-history').click();
    await page
      .locator(`[data-testid=history-item][data-id="${r.body.prompt_id}"] [data-testid=history-thumb]`)
      .click();
    await page.getByTestId('open-detail').click();
    const row = page.getByTestId('error-node');
    await row.waitFor();
    const text = (await row.textContent()) ?? '';
    assert.match(text, /#1 FakeSampler “Breaks here”/);
    assert.match(text, /deliberate failure/i);
    assert.ok(((await page.getByTestId('traceback').textContent()) ?? '').length > 0);
    await screenshot(page, 'job-detail-error');
  });
});
