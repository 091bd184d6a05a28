/**
 * A worker reached over https:// (and wss:// for its websocket): trusted
 * through --comfy-ca, jobs run on it; untrusted, it stays offline and the log
 * says why.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type RunningSimulator, startSimulator } from '../../src/sim/index.js';
import { http, startTestServer, t2iPrompt, tempDir, until, waitForStatus } from '../helpers/harness.js';

/** A self-signed certificate for 127.0.0.1 (openssl is part of the test toolchain, as in CI). */
function selfSigned(): { key: string; cert: string } {
  const dir = tempDir('cq-tls-');
  try {
    const key = join(dir.path, 'key.pem');
    const cert = join(dir.path, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-keyout',
        key,
        '-out',
        cert,
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
  } finally {
    dir.remove();
  }
}

describe('a ComfyUI worker over https', () => {
  let tls: { key: string; cert: string };
  let sim: RunningSimulator;
  before(async () => {
    tls = selfSigned();
    sim = await startSimulator({ stepMs: 1, tls });
  });
  after(() => sim.close());

  test('with its CA given, the worker connects and runs jobs', async () => {
    assert.match(sim.url, /^https:\/\//);
    const cq = await startTestServer({ comfyUrls: [sim.url], comfyCa: tls.cert });
    try {
      const job = (await http('POST', `${cq.url}/api/pqueue/jobs`, { prompt: t2iPrompt(2) })).body;
      const done = await waitForStatus(cq.url, job.prompt_id, ['completed', 'failed']);
      assert.equal(done.status, 'completed', JSON.stringify(done.error));
      assert.equal(done.worker, 'w1');
    } finally {
      await cq.close();
    }
  });

  test('an untrusted certificate keeps the worker offline, and the log says why', async () => {
    const lines: string[] = [];
    const cq = await startTestServer({
      comfyUrls: [sim.url],
      logLevel: 'warn',
      logJson: true,
      logDestination: { write: (l: string) => void lines.push(l) },
    });
    try {
      const line = await until(
        async () => lines.find((l) => /certificate/i.test(l) && l.includes('offline')),
        'a log line about the certificate',
      );
      assert.equal(JSON.parse(line).worker, 'w1');
      assert.equal(cq.workers[0]!.state, 'offline');
    } finally {
      await cq.close();
    }
  });
});
