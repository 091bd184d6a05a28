/**
 * A real browser on a page of another origin, doing what any page may do
 * without CORS: simple POSTs (fetch no-cors, a submitted form) and a
 * websocket. None of them acts on comfy-queue; the same page at
 * comfy-queue's own origin does.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page, Response } from 'playwright-core';
import { launchBrowser, NO_BROWSER } from '../helpers/browser.js';
import { http, startTestServer, t2iPrompt } from '../helpers/harness.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

const PAGE = '<!doctype html><title>a page</title><p>hello</p>';

/** What the page tries: the answers are opaque to it, so the test reads them from the browser's network log. */
async function attack(page: Page, base: string): Promise<{ ws: string }> {
  const ws = await page.evaluate(async (b) => {
    const body = JSON.stringify({ prompt: {}, clear: true });
    for (const path of ['/api/pqueue/resume', '/queue', '/prompt']) {
      await fetch(b + path, {
        method: 'POST',
        mode: 'no-cors',
        body,
        headers: { 'content-type': 'text/plain' },
      });
    }
    const form = document.createElement('form');
    form.method = 'POST';
    form.action = `${b}/api/pqueue/resume`;
    form.target = 'sink';
    const frame = document.createElement('iframe');
    frame.name = 'sink';
    document.body.append(frame, form);
    const loaded = new Promise((r) => frame.addEventListener('load', r, { once: true }));
    form.submit();
    await loaded;
    return new Promise<string>((resolve) => {
      const socket = new WebSocket(`${b.replace('http', 'ws')}/api/pqueue/ws`);
      socket.onopen = () => {
        socket.close();
        resolve('open');
      };
      socket.onerror = () => resolve('refused');
    });
  }, base);
  return { ws };
}

describe('a page of another origin in a real browser', { skip: NO_BROWSER }, () => {
  let server: Server;
  let browser: Browser;
  let base: string;

  before(async () => {
    server = await startTestServer({ comfyUrls: ['http://127.0.0.1:9'] });
    base = server.url;
    // Pages fulfilled by page.route look public to chromium: its own local-network block is turned
    // off, so that what stops the requests is comfy-queue.
    browser = await launchBrowser(['--disable-features=LocalNetworkAccessChecks,PrivateNetworkAccessChecks']);
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  async function pageAt(origin: string): Promise<{ page: Page; statuses: Map<string, number[]> }> {
    const page = await browser.newPage();
    await page.route(`${origin}/a-page`, (route) =>
      route.fulfill({ status: 200, contentType: 'text/html', body: PAGE }),
    );
    const statuses = new Map<string, number[]>();
    page.on('response', (r: Response) => {
      const u = new URL(r.url());
      if (u.origin !== new URL(base).origin) return;
      const key = `${r.request().method()} ${u.pathname}`;
      statuses.set(key, [...(statuses.get(key) ?? []), r.status()]);
    });
    await page.goto(`${origin}/a-page`);
    return { page, statuses };
  }

  test('simple POSTs, a form and a websocket from another origin are refused and change nothing', async () => {
    await http('POST', `${base}/api/pqueue/pause`);
    const { page, statuses } = await pageAt('http://evil.test');
    const { ws } = await attack(page, base);
    assert.equal(ws, 'refused');
    assert.deepEqual(statuses.get('POST /api/pqueue/resume'), [403, 403]);
    assert.deepEqual(statuses.get('POST /queue'), [403]);
    assert.deepEqual(statuses.get('POST /prompt'), [403]);
    const q = await http('GET', `${base}/api/pqueue`);
    assert.equal(q.body.paused, true);
    await page.close();
  });

  test('the same page at comfy-queue own origin acts', async () => {
    await http('POST', `${base}/api/pqueue/pause`);
    await http('POST', `${base}/api/pqueue/jobs`, { prompt: t2iPrompt(1, 1) });
    const { page, statuses } = await pageAt(base);
    const { ws } = await attack(page, base);
    assert.equal(ws, 'open');
    // The form's urlencoded body reaches the route, which reads JSON only.
    assert.deepEqual(statuses.get('POST /api/pqueue/resume'), [200, 415]);
    assert.equal((await http('GET', `${base}/api/pqueue`)).body.paused, false);
    await page.close();
  });
});
