import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ConfigError,
  resolveAgentConfig,
  resolveServeConfig,
  resolveSimConfig,
} from '../../src/cli/config.js';
import { DEFAULT_CONFIG } from '../../src/server.js';

describe('serve configuration', () => {
  test('defaults: loopback, port 8189, ./data, one ComfyUI on 8188, full durability', () => {
    const c = resolveServeConfig([], {});
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.port, 8189);
    assert.equal(c.dataDir, './data');
    assert.deepEqual(c.comfyUrls, ['http://127.0.0.1:8188']);
    assert.equal(c.synchronous, 'FULL');
    assert.equal(c.token, null);
  });

  test('--collect: <data>/outputs by default, a folder, off, or s3:// with the AWS variables', () => {
    assert.deepEqual(resolveServeConfig([], {}).collect, { kind: 'folder', dir: null });
    assert.deepEqual(resolveServeConfig(['--collect', 'off'], {}).collect, { kind: 'off' });
    assert.deepEqual(resolveServeConfig([], { COMFY_QUEUE_COLLECT: '/srv/out' }).collect, {
      kind: 'folder',
      dir: '/srv/out',
    });
    const s3 = resolveServeConfig(['--collect', 's3://renders/a'], {
      AWS_ACCESS_KEY_ID: 'AK',
      AWS_SECRET_ACCESS_KEY: 'SK',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9000',
    }).collect;
    assert.equal(s3.kind, 's3');
    assert.ok(s3.kind === 's3' && s3.endpoint === 'http://127.0.0.1:9000' && s3.prefix === 'a');
    assert.throws(() => resolveServeConfig(['--collect', 's3://renders'], {}), ConfigError);
  });

  test('flags win over the environment, which wins over defaults', () => {
    const env = {
      COMFY_QUEUE_PORT: '9000',
      COMFY_QUEUE_DATA: '/srv/q',
      COMFY_QUEUE_COMFY: 'http://a:1,http://b:2/',
    };
    const fromEnv = resolveServeConfig([], env);
    assert.equal(fromEnv.port, 9000);
    assert.equal(fromEnv.dataDir, '/srv/q');
    assert.deepEqual(fromEnv.comfyUrls, ['http://a:1', 'http://b:2']);
    const fromFlags = resolveServeConfig(
      ['--port', '9100', '--comfy', 'http://c:3', '--comfy', 'http://d:4'],
      env,
    );
    assert.equal(fromFlags.port, 9100);
    assert.deepEqual(fromFlags.comfyUrls, ['http://c:3', 'http://d:4']);
    assert.equal(resolveServeConfig(['--durability', 'normal'], {}).synchronous, 'NORMAL');
    assert.equal(resolveServeConfig([], {}).memory, 'small');
    assert.equal(resolveServeConfig(['--memory', 'fast'], {}).memory, 'fast');
    assert.equal(resolveServeConfig([], { COMFY_QUEUE_MEMORY: 'fast' }).memory, 'fast');
    assert.equal(resolveServeConfig(['--simulate', '3'], {}).simulate, 3);
  });

  test('bad values are refused with a message that names the flag', () => {
    const bad: [string[], RegExp][] = [
      [['--port', 'abc'], /--port/],
      [['--port', '70000'], /--port/],
      [['--simulate=-1'], /--simulate/],
      [['--comfy', 'not a url'], /--comfy/],
      [['--comfy', 'ftp://x'], /http/],
      [['--durability', 'sometimes'], /--durability/],
      [['--memory', 'huge'], /--memory/],
      [['--worker-capacity', '0'], /--worker-capacity/],
    ];
    for (const [argv, msg] of bad) {
      assert.throws(
        () => resolveServeConfig(argv, {}),
        (e: Error) => e instanceof ConfigError && msg.test(e.message),
      );
    }
    assert.throws(() => resolveServeConfig(['--nope'], {}));
  });

  test('a server bound beyond loopback requires a token', () => {
    assert.throws(() => resolveServeConfig(['--host', '0.0.0.0'], {}), /token/);
    assert.equal(resolveServeConfig(['--host', '0.0.0.0', '--token', 's3cret'], {}).token, 's3cret');
    assert.equal(resolveServeConfig(['--host', '0.0.0.0'], { COMFY_QUEUE_TOKEN: 't' }).token, 't');
    assert.equal(resolveServeConfig(['--host', 'localhost'], {}).token, null);
  });

  test('the defaults in the README are the real ones', async () => {
    const { readFileSync } = await import('node:fs');
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    assert.match(
      readme,
      new RegExp(`\\| \`--port\` \\| \`COMFY_QUEUE_PORT\` \\| \`${DEFAULT_CONFIG.port}\``),
    );
    assert.match(
      readme,
      new RegExp(`\\| \`--worker-capacity\` [^\\n]*\\| \`${DEFAULT_CONFIG.workerCapacity}\``),
    );
  });
});

describe('sim configuration', () => {
  test('defaults and checks', () => {
    assert.deepEqual(resolveSimConfig([]), {
      host: '127.0.0.1',
      port: 8188,
      stepMs: 50,
      failRate: 0,
      webUi: false,
      aiohttpWire: false,
    });
    assert.throws(() => resolveSimConfig(['--fail-rate', '2']), /fail-rate/);
    assert.throws(() => resolveSimConfig(['--step-ms', '-5']), /--step-ms must be an integer from 0/);
  });
});

test('--allow-host takes host names (with or without a port), from the flag or the environment', () => {
  assert.deepEqual(resolveServeConfig([], {}).allowHosts, []);
  assert.deepEqual(
    resolveServeConfig(['--allow-host', 'Comfy.LAN', '--allow-host', 'box:9000'], {}).allowHosts,
    ['comfy.lan', 'box:9000'],
  );
  assert.deepEqual(resolveServeConfig([], { COMFY_QUEUE_ALLOW_HOST: 'a.lan,b.lan:1' }).allowHosts, [
    'a.lan',
    'b.lan:1',
  ]);
  for (const bad of ['http://comfy.lan', 'comfy.lan/x', '*', 'a b']) {
    assert.throws(() => resolveServeConfig(['--allow-host', bad], {}), /--allow-host/, bad);
  }
});

test('--stall-timeout is in seconds (default 600, 0 = never), from the flag or the environment', () => {
  assert.equal(resolveServeConfig([], {}).stallTimeoutMs, 600_000);
  assert.equal(resolveServeConfig(['--stall-timeout', '90'], {}).stallTimeoutMs, 90_000);
  assert.equal(resolveServeConfig([], { COMFY_QUEUE_STALL_TIMEOUT: '0' }).stallTimeoutMs, 0);
  assert.equal(
    resolveServeConfig(['--stall-timeout', '30'], { COMFY_QUEUE_STALL_TIMEOUT: '5' }).stallTimeoutMs,
    30_000,
  );
  assert.throws(() => resolveServeConfig(['--stall-timeout', '-1'], {}), /stall-timeout/);
  assert.throws(() => resolveServeConfig(['--stall-timeout', '1.5'], {}), /stall-timeout/);
});

describe('agent configuration', () => {
  test('defaults, the host name as name, flags over the environment', () => {
    const c = resolveAgentConfig(['--server', 'http://farm:8189/'], {}, 'gpu box.lan');
    assert.deepEqual(c, {
      server: 'http://farm:8189',
      enroll: null,
      comfy: 'http://127.0.0.1:8188',
      name: 'gpu-box.lan',
      tags: [],
      capacity: 2,
      dataDir: './agent-data',
      transport: 'auto',
      logLevel: 'info',
      logJson: false,
    });
    const e = resolveAgentConfig(
      ['--name', 'n1', '--tags', 'sdxl, big'],
      { COMFY_QUEUE_SERVER: 'https://farm', COMFY_QUEUE_AGENT_NAME: 'env', COMFY_QUEUE_ENROLL: 'tok' },
      'h',
    );
    assert.equal(e.name, 'n1');
    assert.equal(e.enroll, 'tok');
    assert.deepEqual(e.tags, ['sdxl', 'big']);
    assert.equal(e.transport, 'auto');
    const h = resolveAgentConfig(
      ['--server', 'http://farm', '--transport', 'HTTP'],
      { COMFY_QUEUE_AGENT_TRANSPORT: 'ws' },
      'h',
    );
    assert.equal(h.transport, 'http');
    assert.equal(
      resolveAgentConfig(['--server', 'http://farm'], { COMFY_QUEUE_AGENT_TRANSPORT: 'ws' }, 'h').transport,
      'ws',
    );
  });

  test('refusals name the flag', () => {
    assert.throws(() => resolveAgentConfig([], {}, 'h'), /--server URL is required/);
    assert.throws(() => resolveAgentConfig(['--server', 'ftp://x'], {}, 'h'), /--server ftp:\/\/x/);
    assert.throws(() => resolveAgentConfig(['--server', 'http://x', '--name', 'a b'], {}, 'h'), /--name a b/);
    assert.throws(
      () => resolveAgentConfig(['--server', 'http://x', '--capacity', '0'], {}, 'h'),
      /--capacity/,
    );
    assert.throws(() => resolveAgentConfig(['--server', 'http://x', '--tags', 'a b'], {}, 'h'), /--tags a b/);
    assert.throws(
      () => resolveAgentConfig(['--server', 'http://x', '--transport', 'sse'], {}, 'h'),
      /--transport must be auto, ws or http/,
    );
  });

  test('serve: --comfy none drives no ComfyUI; --lease in seconds', () => {
    const c = resolveServeConfig(['--comfy', 'none', '--lease', '5'], {});
    assert.deepEqual(c.comfyUrls, []);
    assert.equal(c.leaseMs, 5_000);
    assert.equal(resolveServeConfig([], {}).leaseMs, DEFAULT_CONFIG.leaseMs);
    assert.throws(() => resolveServeConfig(['--lease', '0'], {}), /--lease must be an integer from 1/);
  });
});
