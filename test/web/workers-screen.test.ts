import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { type RunningSimulator, startSimulator } from '../../src/sim/index.js';
import { launchBrowser, NO_BROWSER, screenshot } from '../helpers/browser.js';
import { http, startTestServer, t2iPrompt, until } from '../helpers/harness.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

interface WorkerJson {
  id: string;
  state: string;
  mode: string;
  tags: string[];
  capacity: number;
  failure_streak: number;
  blocked_workflows: string[];
  capabilities: { models: string[] } | null;
}

function prompt(ckpt: string, seed: number, steps = 2): Record<string, unknown> {
  const p = t2iPrompt(steps, seed) as Record<string, { inputs: Record<string, unknown> }>;
  p['4']!.inputs.ckpt_name = ckpt;
  return p;
}

describe('the Workers screen in a browser', { skip: NO_BROWSER }, () => {
  const sims: RunningSimulator[] = [];
  let server: Server;
  let browser: Browser;
  let page: Page;
  let base: string;
  /** a long job left running on w1 for the screenshots, cancelled once they are taken */
  let longJob = '';

  const sim = async (opts: Parameters<typeof startSimulator>[0]) => {
    const s = await startSimulator({ port: 0, stepMs: 20, ...opts });
    sims.push(s);
    return s;
  };
  const worker = async (id: string) => {
    const r = await http<WorkerJson>('GET', `${base}/api/farm/workers/${id}`);
    return r.status === 200 ? r.body : null;
  };
  const submit = async (body: Record<string, unknown>) => {
    const r = await http('POST', `${base}/api/pqueue/jobs`, body);
    assert.equal(r.status, 201, r.text);
    return r.body.prompt_id as string;
  };
  const card = (id: string) => page.locator(`[data-testid=worker][data-id="${id}"]`);
  const stateOf = (id: string) => card(id).getByTestId('worker-state');

  before(async () => {
    const a = await sim({ checkpoints: ['alpha.safetensors', 'shared.safetensors'] });
    const b = await sim({ checkpoints: ['beta.safetensors'], withoutNodes: ['SaveImage'] });
    server = await startTestServer({ comfyUrls: [a.url, b.url], workerCapacity: 1, maxRetries: 5 });
    base = server.url;
    await until(async () => {
      const all = await Promise.all(['w1', 'w2'].map(worker));
      return all.every((w) => w?.state === 'online' && w.capabilities) ? true : undefined;
    }, 'both workers online with their capabilities read');
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${base}/dashboard/#/workers`);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    for (const s of sims) await s.close();
  });

  test('lists both workers with their state and models', async () => {
    await stateOf('w1').filter({ hasText: 'online' }).waitFor();
    await stateOf('w2').filter({ hasText: 'online' }).waitFor();
    await card('w1').getByText('2 models').click();
    await card('w1').getByTestId('worker-model').filter({ hasText: 'alpha.safetensors' }).waitFor();
    await card('w2').getByText('1 model').click();
    assert.deepEqual(await card('w2').getByTestId('worker-model').allTextContents(), ['beta.safetensors']);
    await page.getByTestId('workers-summary').filter({ hasText: '2 workers · 2 online' }).waitFor();
  });

  test('a pending job waiting for a model shows why on its card', async () => {
    const id = await submit({ name: 'needs gamma', prompt: prompt('gamma.safetensors', 7) });
    await page.getByTestId('nav-queue').click();
    const reason = page.locator(`[data-testid=job-card][data-id="${id}"]`).getByTestId('waiting-reason');
    await reason.filter({ hasText: 'no online worker has the model gamma.safetensors' }).waitFor();
    await screenshot(page, 'workers-01-waiting-card');
    await page.getByTestId('nav-workers').click();
  });

  test('tags and capacity edited on the card reach the API', async () => {
    await card('w1').getByTestId('edit-worker').click();
    await card('w1').getByTestId('edit-tags').fill('sdxl, big sdxl');
    await card('w1').getByTestId('edit-capacity').fill('2');
    await card('w1').getByTestId('save-worker').click();
    await until(async () => {
      const w = await worker('w1');
      return w?.capacity === 2 && w.tags.join() === 'sdxl,big' ? true : undefined;
    }, 'the new tags and capacity');
    await card('w1').getByTestId('worker-tags').filter({ hasText: 'big' }).waitFor();
    await card('w1').getByTestId('worker-capacity').filter({ hasText: '2 jobs at once' }).waitFor();
  });

  test('a worker added through the form appears; a refused one shows the API message', async () => {
    const c = await sim({ checkpoints: ['gamma.safetensors'] });
    await page.getByTestId('add-worker').click();
    await page.getByTestId('add-url').fill(c.url);
    await page.getByTestId('add-name').fill('w1');
    await page.getByTestId('add-submit').click();
    await page.getByTestId('add-error').filter({ hasText: 'A worker named w1 exists already.' }).waitFor();
    await card('w1').getByText('2 models').click();
    await screenshot(page, 'workers-05-add-refused');
    await page.getByTestId('add-name').fill('gpu-c');
    await page.getByTestId('add-tags').fill('big, 24gb');
    await page.getByTestId('add-capacity').fill('1');
    await page.getByTestId('add-submit').click();
    await stateOf('gpu-c').filter({ hasText: 'online' }).waitFor();
    const added = await worker('gpu-c');
    assert.deepEqual(added?.tags, ['big', '24gb']);
    assert.equal(added?.capacity, 1);
    // The job that waited for gamma runs on it.
    await card('gpu-c').getByTestId('worker-stats').filter({ hasText: '1 done' }).waitFor();
  });

  test('Drain shows "draining" and the API reflects it; Resume undoes it', async () => {
    await card('w2').getByTestId('drain').click();
    await stateOf('w2').filter({ hasText: 'draining' }).waitFor();
    assert.equal((await worker('w2'))?.mode, 'draining');
    assert.equal((await worker('w2'))?.state, 'draining');
    await card('w2').getByTestId('resume').click();
    await stateOf('w2').filter({ hasText: 'online' }).waitFor();
    assert.equal((await worker('w2'))?.mode, 'active');
  });

  test('a long job shows its progress on its worker; desktop and narrow screenshots', async () => {
    const id = await submit({ name: 'long render', prompt: prompt('alpha.safetensors', 3, 400) });
    const job = card('w1').getByTestId('worker-job').filter({ hasText: 'long render' });
    await job.waitFor();
    await job.getByRole('progressbar').and(page.locator('[data-indeterminate=false]')).waitFor();
    await screenshot(page, 'workers-02-desktop');
    await page.setViewportSize({ width: 390, height: 844 });
    await card('w2').waitFor();
    await screenshot(page, 'workers-03-narrow');
    await page.setViewportSize({ width: 1280, height: 900 });
    longJob = id;
  });

  test('a worker that runs out of memory three times is quarantined; Release lifts it', async () => {
    const oom = await sim({ failRate: 1, failKind: 'oom' });
    const added = await http('POST', `${base}/api/farm/workers`, {
      url: oom.url,
      name: 'flaky',
      tags: ['oom'],
      capacity: 1,
    });
    assert.equal(added.status, 201, added.text);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push(
        await submit({ prompt: prompt('v1-5-pruned-emaonly.safetensors', 40 + i), requires: ['oom'] }),
      );
    await stateOf('flaky').filter({ hasText: 'quarantined' }).waitFor();
    await card('flaky')
      .getByTestId('quarantine-until')
      .filter({ hasText: /until \d\d:\d\d/ })
      .waitFor();
    await card('flaky').getByTestId('blocked-workflow').first().waitFor();
    const sick = await worker('flaky');
    assert.equal(sick?.state, 'quarantined');
    // Nothing left for it to fail on once released.
    const del = await http('POST', `${base}/api/pqueue/delete`, { prompt_ids: ids });
    assert.equal(del.status, 200, del.text);
    await screenshot(page, 'workers-04-quarantined');
    const cancelled = await http('POST', `${base}/api/pqueue/jobs/${longJob}/cancel`);
    assert.equal(cancelled.status, 200, cancelled.text);
    await card('flaky').getByTestId('release').click();
    await stateOf('flaky').filter({ hasText: 'online' }).waitFor();
    const well = await worker('flaky');
    assert.equal(well?.state, 'online');
    assert.equal(well?.failure_streak, 0);
    const blocked = well?.blocked_workflows.length ?? 0;
    assert.ok(blocked > 0);
    await card('flaky').getByTestId('unblock').first().click();
    await until(
      async () => ((await worker('flaky'))?.blocked_workflows.length === blocked - 1 ? true : undefined),
      'one workflow unblocked',
    );
  });

  test('Remove asks for confirmation, then removes', async () => {
    await card('flaky').getByTestId('remove').click();
    await card('flaky').getByTestId('remove-confirm').filter({ hasText: 'Remove flaky?' }).waitFor();
    await card('flaky').getByTestId('remove-no').click();
    await card('flaky').getByTestId('remove').waitFor();
    assert.ok(await worker('flaky'), 'Keep keeps it');
    await card('flaky').getByTestId('remove').click();
    await card('flaky').getByTestId('remove-yes').click();
    await card('flaky').waitFor({ state: 'detached' });
    assert.equal(await worker('flaky'), null);
    assert.equal((await http('GET', `${base}/api/farm/workers/flaky`)).status, 404);
  });
});
