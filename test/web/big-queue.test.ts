import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { PromptGraph } from '../../src/domain/job.js';
import { startSimulator } from '../../src/sim/index.js';
import { launchBrowser, NO_BROWSER, screenshot } from '../helpers/browser.js';
import { http, startTestServer, until } from '../helpers/harness.js';

type Sim = Awaited<ReturnType<typeof startSimulator>>;
type Server = Awaited<ReturnType<typeof startTestServer>>;

const JOBS = 100_000;

describe('a queue of 100,000 jobs in the browser', { skip: NO_BROWSER }, () => {
  let sim: Sim;
  let server: Server;
  let browser: Browser;
  let page: Page;

  const pending = async (limit = 5, offset = 0) =>
    (await http('GET', `${server.url}/api/admin/queue?limit=${limit}&offset=${offset}`)).body;

  before(async () => {
    sim = await startSimulator({ port: 0, stepMs: 20 });
    server = await startTestServer({ comfyUrls: [sim.url] });
    await server.engine.pause();
    // The smallest graph: 100,000 jobs are stored as fast as the store can.
    const prompt: PromptGraph = {
      '1': { class_type: 'EmptyImage', inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
      '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'q' } },
    };
    for (let i = 0; i < JOBS; i += 10_000) {
      await server.engine.enqueueMany(
        Array.from({ length: 10_000 }, (_, k) => ({
          prompt,
          name: `${(i + k) % 10 === 7 ? 'lucky' : 'plain'} ${i + k}`,
        })),
      );
    }
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${server.url}/dashboard/`);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await sim?.close();
  });

  test('the list shows its size, keeps few rows in the page, and scrolls to the last job', async () => {
    await page.getByTestId('queue-count').filter({ hasText: '100,000 pending' }).waitFor();
    await page.getByTestId('job-card').filter({ hasText: 'plain 0' }).first().waitFor();
    assert.ok((await page.getByTestId('job-card').count()) < 60);
    await page.getByTestId('pending-list').evaluate((el) => {
      el.scrollTop = el.scrollHeight;
    });
    await page
      .getByTestId('job-card')
      .filter({ hasText: `plain ${JOBS - 1}` })
      .waitFor();
    await page
      .getByTestId('job-card')
      .filter({ hasText: '#100,000' })
      .or(page.getByText('#100000'))
      .first()
      .waitFor();
    assert.ok((await page.getByTestId('job-card').count()) < 60);
    await screenshot(page, 'queue-100k-end');
  });

  test('select all matching a filter (server-side) and move them to the top', async () => {
    await page.getByTestId('queue-filter').fill('lucky');
    await page
      .getByTestId('queue-count')
      .filter({ hasText: '10,000 of 100,000 match' })
      .waitFor({ timeout: 30_000 });
    await page.getByTestId('select-all').click();
    await page.getByTestId('selected-count').filter({ hasText: '10,000 selected' }).waitFor();
    await page.getByTestId('move-top').click();
    await until(
      async () => {
        const q = await pending(3);
        return q.jobs.every((c: { workflow_name: string }) => c.workflow_name.startsWith('lucky'))
          ? true
          : undefined;
      },
      'the lucky jobs on top',
      60_000,
    );
    // The 10,000th job is the last lucky one, the next is the first plain one, in their old order.
    const edge = await pending(2, 9_999);
    assert.deepEqual(
      edge.jobs.map((c: { workflow_name: string }) => c.workflow_name),
      ['lucky 99997', 'plain 0'],
    );
    await page.getByTestId('queue-filter').fill('');
    await page.getByTestId('queue-count').filter({ hasText: '100,000 pending' }).waitFor();
    await page.getByTestId('pending-list').evaluate((el) => {
      el.scrollTop = 0;
    });
    await page.getByTestId('job-card').first().filter({ hasText: 'lucky 7' }).waitFor();
    await screenshot(page, 'queue-100k-moved');
  });

  test('one job moves down one place by position, from the keyboard', async () => {
    const list = page.getByTestId('pending-list');
    await list.focus();
    await page.keyboard.press('Home');
    await page.keyboard.press('Alt+ArrowDown');
    await until(async () => {
      const q = await pending(2);
      const names = q.jobs.map((c: { workflow_name: string }) => c.workflow_name);
      return names[0] === 'lucky 17' && names[1] === 'lucky 7' ? true : undefined;
    }, 'lucky 7 one place down');
  });

  test('delete asks first; Keep changes nothing, Delete deletes', async () => {
    const row = page.getByTestId('job-card').filter({ hasText: 'lucky 27' });
    await row.getByTestId('delete').click();
    const dialog = page.getByTestId('confirm-dialog');
    await dialog.waitFor();
    await screenshot(page, 'queue-delete-confirm');
    await dialog.getByTestId('confirm-no').click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await pending(1)).pending_total, JOBS);
    await row.getByTestId('delete').click();
    await page.getByTestId('confirm-yes').click();
    await until(
      async () => ((await pending(1)).pending_total === JOBS - 1 ? true : undefined),
      'one job deleted',
    );
    await row.waitFor({ state: 'detached' });
  });

  test('clear the queue, after a confirmation', async () => {
    await page.getByTestId('clear-queue').click();
    await page.getByTestId('confirm-dialog').filter({ hasText: '99,999 jobs' }).waitFor();
    await page.getByTestId('confirm-yes').click();
    await until(
      async () => ((await pending(1)).pending_total === 0 ? true : undefined),
      'an empty queue',
      60_000,
    );
    await page.getByText('No jobs in queue').waitFor();
  });
});
