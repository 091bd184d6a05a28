/**
 * The log: flags and environment, the one-line text format, secrets kept out,
 * requests at debug level only, and errors that used to vanish (a failed
 * claim, a broken event subscriber) logged — the claim retried.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, resolveServeConfig } from '../../src/cli/config.js';
import { MemoryEventBus } from '../../src/engine/events.js';
import { createLogger, redactUrl } from '../../src/logging/logger.js';
import { formatLine } from '../../src/logging/text-format.js';
import { startSimulator } from '../../src/sim/index.js';
import { http, startTestServer, t2iPrompt, until, waitForStatus } from '../helpers/harness.js';

function capture(): { lines: string[]; destination: { write(l: string): void } } {
  const lines: string[] = [];
  return { lines, destination: { write: (l: string) => void lines.push(l) } };
}

describe('log configuration', () => {
  test('--log-level and --log-json, or their environment variables; info and text by default', () => {
    const d = resolveServeConfig([], {});
    assert.equal(d.logLevel, 'info');
    assert.equal(d.logJson, false);
    const env = { COMFY_QUEUE_LOG_LEVEL: 'warn', COMFY_QUEUE_LOG_JSON: '1' };
    assert.equal(resolveServeConfig([], env).logLevel, 'warn');
    assert.equal(resolveServeConfig([], env).logJson, true);
    const flags = resolveServeConfig(['--log-level', 'DEBUG', '--log-json'], {});
    assert.equal(flags.logLevel, 'debug');
    assert.equal(flags.logJson, true);
    assert.equal(resolveServeConfig(['--log-level', 'error'], env).logLevel, 'error');
    assert.equal(resolveServeConfig([], { COMFY_QUEUE_LOG_JSON: 'false' }).logJson, false);
  });

  test('bad values are refused naming the flag', () => {
    const bad: [string[], Record<string, string>, RegExp][] = [
      [['--log-level', 'loud'], {}, /--log-level/],
      [[], { COMFY_QUEUE_LOG_JSON: 'maybe' }, /--log-json/],
      [['--comfy-ca', '/nonexistent/ca.pem'], {}, /--comfy-ca/],
      [['--missing-node-grace-s=-1'], {}, /--missing-node-grace-s/],
    ];
    for (const [argv, env, msg] of bad) {
      assert.throws(
        () => resolveServeConfig(argv, env),
        (e: Error) => e instanceof ConfigError && msg.test(e.message),
      );
    }
    assert.equal(resolveServeConfig(['--missing-node-grace-s', '30'], {}).missingNodeGraceMs, 30_000);
  });
});

describe('log lines', () => {
  test('the text format: one line with time, level, component, message and fields', () => {
    const line = formatLine(
      JSON.stringify({
        level: 40,
        time: Date.UTC(2026, 0, 31, 12),
        component: 'worker',
        worker: 'w1',
        msg: 'worker w1 offline:\nconnection refused',
        held: 2,
        err: { type: 'Error', message: 'connect ECONNREFUSED', stack: 'Error: ...\n    at x' },
      }),
    );
    assert.equal(line.split('\n').length, 2, 'one line and its newline');
    assert.match(
      line,
      /^2026-01-31T12:00:00\.000Z WARN {2}\[worker\] worker w1 offline: ⏎ connection refused /,
    );
    assert.match(line, / worker=w1 /);
    assert.match(line, / held=2 /);
    assert.match(line, / err="Error: connect ECONNREFUSED"\n$/);
  });

  test('authorization headers and token parameters never reach the log', () => {
    for (const json of [true, false]) {
      const { lines, destination } = capture();
      const log = createLogger({ level: 'info', json, destination });
      log.info(
        { headers: { authorization: 'Bearer s3cret', 'x-comfy-queue-token': 's3cret' }, token: 's3cret' },
        'a request',
      );
      log.info({ url: redactUrl('/api/pqueue/ws?a=1&token=s3cret&b=2') }, 'a websocket');
      assert.equal(lines.length, 2);
      assert.ok(
        lines.every((l) => !l.includes('s3cret')),
        lines.join(''),
      );
      assert.ok(lines[1]!.includes('token=[redacted]&b=2'));
    }
  });

  test('an event subscriber that throws is logged, and the others still get the event', () => {
    const { lines, destination } = capture();
    const bus = new MemoryEventBus(createLogger({ level: 'info', json: true, destination }));
    let got = 0;
    bus.subscribe(() => {
      throw new Error('subscriber bug');
    });
    bus.subscribe(() => {
      got++;
    });
    bus.publish({ type: 'queue.paused' });
    assert.equal(got, 1);
    const entry = JSON.parse(lines[0]!);
    assert.equal(entry.level, 50);
    assert.equal(entry.err.message, 'subscriber bug');
    assert.equal(entry.event, 'queue.paused');
  });
});

describe('the server log', () => {
  test('requests are logged at debug level only, with their token redacted', async () => {
    const sim = await startSimulator({ stepMs: 1 });
    try {
      for (const level of ['info', 'debug'] as const) {
        const { lines, destination } = capture();
        const cq = await startTestServer({
          comfyUrls: [sim.url],
          token: 's3cret',
          logLevel: level,
          logJson: true,
          logDestination: destination,
        });
        try {
          assert.equal((await http('GET', `${cq.url}/api/pqueue?token=s3cret`)).status, 200);
          assert.equal(
            (await http('GET', `${cq.url}/api/pqueue`, undefined, { authorization: 'Bearer s3cret' })).status,
            200,
          );
          const requests = () => lines.map((l) => JSON.parse(l)).filter((e) => e.msg === 'request');
          if (level === 'info') assert.equal(requests().length, 0);
          else {
            const seen = await until(
              async () => (requests().length >= 2 ? requests() : undefined),
              'two request lines',
            );
            assert.equal(seen[0].level, 20);
            assert.equal(seen[0].url, '/api/pqueue?token=[redacted]');
            assert.equal(seen[0].status, 200);
          }
          assert.ok(lines.every((l) => !l.includes('s3cret')));
        } finally {
          await cq.close();
        }
      }
    } finally {
      await sim.close();
    }
  });

  test('a failed claim is logged and retried: the queue does not stall', async () => {
    const sim = await startSimulator({ stepMs: 1 });
    const { lines, destination } = capture();
    const cq = await startTestServer({
      comfyUrls: [sim.url],
      logLevel: 'warn',
      logJson: true,
      logDestination: destination,
    });
    try {
      await until(async () => (cq.workers[0]!.state === 'online' ? true : undefined), 'the worker online');
      const store = cq.store;
      const claimJob = store.claimJob.bind(store);
      let failures = 2;
      store.claimJob = async (...args) => {
        if (failures > 0) {
          failures--;
          throw new Error('SQLITE_BUSY: database is locked');
        }
        return claimJob(...args);
      };
      const job = (await http('POST', `${cq.url}/api/pqueue/jobs`, { prompt: t2iPrompt(1) })).body;
      const done = await waitForStatus(cq.url, job.prompt_id, ['completed', 'failed']);
      assert.equal(done.status, 'completed');
      const claims = lines
        .map((l) => JSON.parse(l))
        .filter((e) => /claiming the next job failed/.test(e.msg));
      assert.equal(claims.length, 2);
      assert.equal(claims[0].level, 50);
      assert.equal(claims[0].component, 'engine');
      assert.match(claims[0].err.message, /SQLITE_BUSY/);
    } finally {
      await cq.close();
      await sim.close();
    }
  });
});
