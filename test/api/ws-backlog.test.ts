/**
 * ComfyUI's /ws relayed by comfy-queue holds only a bounded backlog per
 * client: a client that stops reading while previews flow loses previews
 * first, then its connection, and what the server buffers for it never grows
 * past the limit; a client that reads is not affected.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { type BacklogLimits, sendBounded } from '../../src/api/backlog.js';
import type { RunningServer } from '../../src/server.js';
import { type RunningSimulator, startSimulator } from '../../src/sim/index.js';
import { http, startTestServer, t2iPrompt, until } from '../helpers/harness.js';

const LIMITS: BacklogLimits = { previewBytes: 16 * 1024, maxBytes: 256 * 1024, behindMs: 60_000 };

function open(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

describe('/ws backlog per client', () => {
  let sim: RunningSimulator;
  let cq: RunningServer;
  before(async () => {
    sim = await startSimulator({ stepMs: 0 });
    cq = await startTestServer({ comfyUrls: [sim.url], wsBacklog: LIMITS });
  });
  after(async () => {
    await cq.close();
    await sim.close();
  });

  test('a client that stops reading loses previews, then is disconnected; a reader keeps going', async () => {
    const base = cq.url.replace('http', 'ws');
    const laggards = await Promise.all([1, 2, 3].map((i) => open(`${base}/ws?clientId=laggard-${i}`)));
    const reader = await open(`${base}/ws?clientId=reader`);
    let readerBinary = 0;
    reader.on('message', (_d, binary) => {
      if (binary) readerBinary++;
    });
    // The laggards never read again: what the server sends them piles up on its side.
    for (const ws of laggards) (ws as unknown as { _socket: { pause(): void } })._socket.pause();

    const ids: string[] = [];
    const submit = async () =>
      ids.push(
        (await http('POST', `${cq.url}/api/pqueue/jobs`, { prompt: t2iPrompt(10_000, ids.length) })).body
          .prompt_id,
      );
    await submit();
    await submit();
    const stats = cq.app.comfyWsStats!;
    await until(
      async () => (stats().disconnected >= laggards.length ? true : undefined),
      'the laggards disconnected',
      120_000,
    );

    const s = stats();
    assert.ok(s.previewsDropped > 0, 'previews were dropped first');
    // A send is refused once the backlog is past maxBytes: the backlog exceeds it by one message at most.
    assert.ok(s.peakBuffered <= LIMITS.maxBytes + 64 * 1024, `peak backlog ${s.peakBuffered} bytes`);
    assert.equal(reader.readyState, WebSocket.OPEN);
    assert.equal(s.clients, 1);
    const before = readerBinary;
    await until(async () => (readerBinary > before ? true : undefined), 'the reader to get more previews');
    reader.close();
    for (const id of ids) await http('POST', `${cq.url}/api/pqueue/jobs/${id}/cancel`);
    for (const ws of laggards) ws.terminate();
  });
});

describe('sendBounded', () => {
  function fakeSocket(buffered: number) {
    const s = { readyState: 1, bufferedAmount: buffered, sent: 0, terminated: false };
    return Object.assign(s, {
      send: () => {
        s.sent++;
      },
      terminate: () => {
        s.terminated = true;
        s.readyState = 3;
      },
    });
  }
  const limits: BacklogLimits = { previewBytes: 100, maxBytes: 1000, behindMs: 5_000 };

  test('below the preview limit everything is sent and the client is not behind', () => {
    const s = fakeSocket(50);
    const state = { behindSince: 7 };
    assert.equal(sendBounded(s, state, 'x', true, limits, 10), 'sent');
    assert.equal(state.behindSince, null);
  });

  test('behind: previews are dropped, other messages sent, until it stays behind too long', () => {
    const s = fakeSocket(500);
    const state = { behindSince: null as number | null };
    assert.equal(sendBounded(s, state, 'p', true, limits, 1_000), 'dropped');
    assert.equal(sendBounded(s, state, 'm', false, limits, 2_000), 'sent');
    assert.equal(state.behindSince, 1_000);
    assert.equal(sendBounded(s, state, 'm', false, limits, 6_000), 'disconnected');
    assert.equal(s.terminated, true);
    assert.equal(s.sent, 1);
  });

  test('past the byte limit the client is disconnected at once', () => {
    const s = fakeSocket(1_001);
    assert.equal(sendBounded(s, { behindSince: null }, 'm', false, limits, 0), 'disconnected');
    assert.equal(sendBounded(s, { behindSince: null }, 'm', false, limits, 0), 'not-open');
  });
});
