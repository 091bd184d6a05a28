/** A remote agent on the Workers screen: its card says it is an agent, its state and its job's progress live. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { type RunningSimulator, startSimulator } from '../../src/sim/index.js';
import { spawnAgent } from '../helpers/agents.js';
import { launchBrowser, NO_BROWSER } from '../helpers/browser.js';
import { type ChildServer, http, startTestServer, t2iPrompt, tempDir } from '../helpers/harness.js';

describe('an agent on the Workers screen', { skip: NO_BROWSER }, () => {
  let sim: RunningSimulator;
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let agent: ChildServer;
  let browser: Browser;
  let page: Page;
  const data = tempDir();

  before(async () => {
    sim = await startSimulator({ stepMs: 100 });
    server = await startTestServer({ comfyUrls: [] });
    const e = await http('POST', `${server.url}/api/farm/enrollments`, {});
    assert.equal(e.status, 201, e.text);
    agent = await spawnAgent([
      '--server',
      server.url,
      '--enroll',
      e.body.token,
      '--comfy',
      sim.url,
      '--name',
      'far-gpu',
      '--data',
      data.path,
    ]);
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${server.url}/dashboard/#/workers`);
  });
  after(async () => {
    await browser?.close();
    await agent?.kill();
    await server?.close();
    await sim?.close();
    data.remove();
  });

  test('shows the agent as such, online, with the job it runs', async () => {
    const card = page.locator('[data-testid=worker][data-id="far-gpu"]');
    await card.getByTestId('worker-state').filter({ hasText: 'online' }).waitFor();
    assert.equal(await card.getByTestId('worker-kind').textContent(), 'agent');
    const r = await http('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(30, 1) });
    assert.equal(r.status, 201, r.text);
    await card.getByText(r.body.prompt_id.slice(0, 8)).first().waitFor();
  });
});
