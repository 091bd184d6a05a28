import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { AgentEnrollment } from '../../../src/store/job-store.js';
import { type StoreFactory, withStore } from './harness.js';

const open = (id: string, over: Partial<AgentEnrollment> = {}): AgentEnrollment => ({
  id,
  tokenHash: `hash-${id}`,
  note: null,
  createdAt: 1000,
  expiresAt: 5000,
  usedAt: null,
  agent: null,
  credentialHash: null,
  revokedAt: null,
  ...over,
});

export function agentCases(f: StoreFactory): void {
  it('an enrollment token is redeemed once, only while open and unexpired', () =>
    withStore(f, async (s) => {
      await s.saveEnrollment(open('e1'));
      await s.saveEnrollment(open('e2', { createdAt: 1001, expiresAt: 1500 }));
      await s.saveEnrollment(open('e3', { createdAt: 1002, revokedAt: 1200 }));
      const used = await s.redeemEnrollment('hash-e1', 'gpu1', 'cred-1', 2000);
      assert.deepEqual(used, { ...open('e1'), usedAt: 2000, agent: 'gpu1', credentialHash: 'cred-1' });
      assert.equal(await s.redeemEnrollment('hash-e1', 'gpu2', 'cred-2', 2001), null, 'used');
      assert.equal(await s.redeemEnrollment('hash-e2', 'gpu2', 'cred-2', 2001), null, 'expired');
      assert.equal(await s.redeemEnrollment('hash-e3', 'gpu2', 'cred-2', 2001), null, 'revoked');
      assert.equal(await s.redeemEnrollment('hash-none', 'gpu2', 'cred-2', 2001), null, 'unknown');
      assert.deepEqual(
        (await s.listEnrollments()).map((e) => e.id),
        ['e1', 'e2', 'e3'],
      );
    }));

  it('of several redeems of one token at once, from two stores on the database, exactly one wins', () =>
    withStore(f, async (s) => {
      await s.saveEnrollment(open('e1'));
      const again = await f.openAgain(s);
      try {
        const tries = await Promise.all(
          ['gpu1', 'gpu2', 'gpu3', 'gpu4'].map((agent, i) =>
            (i % 2 ? again : s).redeemEnrollment('hash-e1', agent, `cred-${agent}`, 2000),
          ),
        );
        const won = tries.filter((e) => e !== null);
        assert.equal(won.length, 1);
        const [stored] = await again.listEnrollments();
        assert.equal(stored?.agent, won[0]!.agent);
        assert.equal(stored?.credentialHash, `cred-${won[0]!.agent}`);
      } finally {
        await again.close();
      }
    }));

  it('a credential finds its enrollment; saving again replaces it (revocation)', () =>
    withStore(f, async (s) => {
      await s.saveEnrollment(open('e1', { tokenHash: null, usedAt: 10, agent: 'a', credentialHash: 'c1' }));
      assert.equal((await s.enrollmentForCredential('c1'))?.agent, 'a');
      assert.equal(await s.enrollmentForCredential('c2'), null);
      const e = (await s.enrollmentForCredential('c1'))!;
      await s.saveEnrollment({ ...e, revokedAt: 20 });
      assert.equal((await s.enrollmentForCredential('c1'))?.revokedAt, 20);
      assert.equal((await s.listEnrollments()).length, 1);
    }));
}
