import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type OwnershipView, workersToTake } from '../../src/cluster/ownership-plan.js';

const LEASE = 30_000;

function view(over: Partial<OwnershipView>): OwnershipView {
  return {
    me: 'a',
    now: 1_000_000,
    leaseMs: LEASE,
    workers: [],
    preferred: new Set(),
    owners: new Map(),
    mine: new Set(),
    liveServers: 1,
    freeSince: new Map(),
    ...over,
  };
}

test("a server takes its own command line's workers at once, and no one else's that another server is starting", () => {
  const take = workersToTake(
    view({ workers: ['w1', 'w2', 'w3'], preferred: new Set(['w1', 'w2']), liveServers: 2 }),
  );
  assert.deepEqual(take, ['w1', 'w2']);
});

test('a worker another server drives is never taken, even one of its own command line', () => {
  const owners = new Map([['w1', { owner: 'b', expiresAt: 1_000_000 + 5_000 }]]);
  assert.deepEqual(workersToTake(view({ workers: ['w1'], preferred: new Set(['w1']), owners })), []);
});

test("a dead server's workers are spread: each live server takes up to its share", () => {
  const expired = { owner: 'dead', expiresAt: 1_000_000 - 1 };
  const owners = new Map(['w1', 'w2', 'w3', 'w4'].map((w) => [w, expired]));
  const mine = new Set(['w5', 'w6']);
  // 6 workers over 2 live servers: a share of 3; this server has 2, so it takes 1.
  const take = workersToTake(
    view({ workers: ['w1', 'w2', 'w3', 'w4', 'w5', 'w6'], owners, mine, liveServers: 2 }),
  );
  assert.equal(take.length, 1);
});

test('a worker free for two leases is taken whatever the share', () => {
  const now = 1_000_000;
  const owners = new Map([['w9', { owner: 'dead', expiresAt: now - 1 }]]);
  const take = workersToTake(
    view({
      workers: ['w1', 'w9'],
      mine: new Set(['w1']),
      owners,
      liveServers: 2,
      freeSince: new Map([['w9', now - 2 * LEASE]]),
    }),
  );
  assert.deepEqual(take, ['w9']);
});

test('a worker never owned and not on this command line waits a lease before it is taken', () => {
  const now = 1_000_000;
  const early = workersToTake(view({ workers: ['api1'], freeSince: new Map([['api1', now - 1_000]]) }));
  assert.deepEqual(early, []);
  const later = workersToTake(view({ workers: ['api1'], freeSince: new Map([['api1', now - LEASE]]) }));
  assert.deepEqual(later, ['api1']);
});
