import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  isLoopbackName,
  judgeRequest,
  normaliseAllowedHost,
  type OriginPolicy,
  parseHost,
  type RequestFacts,
} from '../../src/api/request-origin.js';

const LOOPBACK: OriginPolicy = { bindHost: '127.0.0.1', allowOrigins: [], allowHosts: [] };
const HOST = '127.0.0.1:8189';

function judge(facts: Partial<RequestFacts>, policy: OriginPolicy = LOOPBACK) {
  return judgeRequest({ method: 'POST', host: HOST, websocket: false, ...facts }, policy);
}

function code(facts: Partial<RequestFacts>, policy?: OriginPolicy): string | null {
  const v = judge(facts, policy);
  return v.allowed ? null : v.code;
}

describe('judgeRequest: Origin', () => {
  test('a state-changing request from another origin is refused, whatever its method', () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'post', 'PROPFIND']) {
      assert.equal(code({ method, origin: 'http://evil.example' }), 'FORBIDDEN_ORIGIN', method);
    }
  });

  test('the same origin passes: same name and port as Host, default ports filled in (behind a TLS proxy too)', () => {
    assert.equal(code({ origin: 'http://127.0.0.1:8189' }), null);
    assert.equal(code({ origin: 'http://LOCALHOST:8189', host: 'localhost:8189' }), null);
    assert.equal(code({ origin: 'http://localhost', host: 'localhost:80' }), null);
    assert.equal(code({ origin: 'http://localhost:80', host: 'localhost' }), null);
    assert.equal(code({ origin: 'https://localhost', host: 'localhost:443' }), null);
    assert.equal(
      code({ origin: 'https://comfy.example', host: 'comfy.example' }, { ...LOOPBACK, bindHost: '0.0.0.0' }),
      null,
    );
    assert.equal(code({ origin: 'http://[::1]:8189', host: '[::1]:8189' }), null);
  });

  test('another port or another loopback name is another origin', () => {
    assert.equal(code({ origin: 'http://127.0.0.1:8188' }), 'FORBIDDEN_ORIGIN');
    assert.equal(code({ origin: 'http://localhost:8189' }), 'FORBIDDEN_ORIGIN');
    assert.equal(code({ origin: 'http://localhost', host: 'localhost:443' }), 'FORBIDDEN_ORIGIN');
  });

  test('opaque and malformed origins are refused: "null", file:, extensions, garbage', () => {
    for (const origin of ['null', 'file://', 'chrome-extension://abc', 'not a url', '']) {
      assert.equal(code({ origin }), 'FORBIDDEN_ORIGIN', origin);
    }
  });

  test('an origin listed with --allow-origin may act', () => {
    const policy = { ...LOOPBACK, allowOrigins: ['http://127.0.0.1:8188'] };
    assert.equal(code({ origin: 'http://127.0.0.1:8188' }, policy), null);
    assert.equal(code({ origin: 'http://127.0.0.1:8187' }, policy), 'FORBIDDEN_ORIGIN');
  });

  test('without Origin, Sec-Fetch-Site tells a page of another site; scripts send neither', () => {
    assert.equal(code({}), null);
    assert.equal(code({ secFetchSite: 'same-origin' }), null);
    assert.equal(code({ secFetchSite: 'none' }), null);
    assert.equal(code({ secFetchSite: 'cross-site' }), 'FORBIDDEN_ORIGIN');
    assert.equal(code({ secFetchSite: 'Same-Site' }), 'FORBIDDEN_ORIGIN');
  });

  test('reading (GET, HEAD, OPTIONS) is not refused for its origin, a websocket is', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      assert.equal(code({ method, origin: 'http://evil.example' }), null, method);
    }
    assert.equal(code({ method: 'GET', origin: 'http://evil.example', websocket: true }), 'FORBIDDEN_ORIGIN');
    assert.equal(code({ method: 'GET', origin: 'http://127.0.0.1:8189', websocket: true }), null);
    assert.equal(code({ method: 'GET', websocket: true }), null);
  });

  test('an origin cannot match a request that has no Host', () => {
    assert.equal(code({ origin: 'http://127.0.0.1:8189', host: undefined }), 'FORBIDDEN_ORIGIN');
  });
});

describe('judgeRequest: Host (DNS rebinding)', () => {
  test('on a loopback bind only loopback names are answered, with any port', () => {
    for (const host of [
      'localhost',
      'localhost:1',
      '127.0.0.1',
      '127.1.2.3:8189',
      '[::1]:8189',
      'LOCALHOST.',
    ]) {
      assert.equal(code({ method: 'GET', host }), null, host);
    }
    for (const host of [
      'evil.example',
      'evil.example:8189',
      '127.0.0.1.evil.example',
      '10.0.0.2',
      '127.0.0.256',
    ]) {
      assert.equal(code({ method: 'GET', host }), 'FORBIDDEN_HOST', host);
    }
  });

  test('a Host the parser cannot read is refused; a missing one (HTTP/1.0 scripts) passes', () => {
    for (const host of ['', 'a b', 'x/y', 'user@localhost', '[::1', 'localhost:99999999']) {
      assert.equal(code({ method: 'GET', host }), 'FORBIDDEN_HOST', host);
    }
    assert.equal(code({ method: 'GET', host: undefined }), null);
  });

  test('every loopback bind checks Host: 127.x, ::1, localhost', () => {
    for (const bindHost of ['127.0.0.1', '127.0.0.2', '::1', 'localhost']) {
      assert.equal(
        code({ method: 'GET', host: 'evil.example' }, { ...LOOPBACK, bindHost }),
        'FORBIDDEN_HOST',
      );
    }
  });

  test('--allow-host adds names, with or without a port', () => {
    const policy = { ...LOOPBACK, allowHosts: ['comfy.lan', 'box:9000'] };
    assert.equal(code({ method: 'GET', host: 'comfy.lan:8189' }, policy), null);
    assert.equal(code({ method: 'GET', host: 'COMFY.LAN' }, policy), null);
    assert.equal(code({ method: 'GET', host: 'box:9000' }, policy), null);
    assert.equal(code({ method: 'GET', host: 'box:9001' }, policy), 'FORBIDDEN_HOST');
    assert.equal(code({ method: 'GET', host: 'comfy.lan.evil' }, policy), 'FORBIDDEN_HOST');
  });

  test('beyond loopback any Host is answered (the token guards), but Origin still counts', () => {
    const open = { ...LOOPBACK, bindHost: '0.0.0.0' };
    assert.equal(code({ method: 'GET', host: 'anything.example' }, open), null);
    assert.equal(code({ host: 'box:8189', origin: 'http://box:8189' }, open), null);
    assert.equal(code({ host: 'box:8189', origin: 'http://evil.example' }, open), 'FORBIDDEN_ORIGIN');
  });

  test('Host is judged before Origin', () => {
    assert.equal(code({ host: 'evil.example', origin: 'http://evil.example' }), 'FORBIDDEN_HOST');
  });
});

test('refusals carry a message naming the flag that lifts them', () => {
  const v = judge({ origin: 'http://evil.example' });
  assert.ok(!v.allowed && /--allow-origin/.test(v.message) && /evil\.example/.test(v.message));
  const h = judge({ method: 'GET', host: 'evil.example' });
  assert.ok(!h.allowed && /--allow-host/.test(h.message));
});

test('isLoopbackName, parseHost, normaliseAllowedHost', () => {
  assert.ok(isLoopbackName('127.255.255.255') && isLoopbackName('[::1]') && isLoopbackName('::1'));
  assert.ok(!isLoopbackName('128.0.0.1') && !isLoopbackName('localhost.evil') && !isLoopbackName('::2'));
  assert.deepEqual(parseHost('Example.COM:80'), { name: 'example.com', port: '80' });
  assert.deepEqual(parseHost('[::1]'), { name: '[::1]', port: null });
  assert.equal(parseHost('::1'), null);
  assert.equal(normaliseAllowedHost('Comfy.LAN'), 'comfy.lan');
  assert.equal(normaliseAllowedHost('comfy.lan:8189'), 'comfy.lan:8189');
  for (const bad of ['http://comfy.lan', 'comfy.lan/x', '', '*', 'a b'])
    assert.equal(normaliseAllowedHost(bad), null, bad);
});
