/**
 * A worker's record of failures, changed by a pure reducer: three worker
 * failures in a row quarantine it for a while (or until an operator releases
 * it); failing the same workflow twice blocks that workflow on it. A success
 * clears the streak.
 */
import type { FailureClass } from './failure-class.js';

export interface WorkerHealth {
  /** worker-class failures since its last success */
  streak: number;
  /** ms since epoch until which it takes no new work; null when not quarantined */
  quarantinedUntil: number | null;
  /** failures per workflow key */
  workflowFailures: Readonly<Record<string, number>>;
  /** workflow keys it is not given again */
  blocked: readonly string[];
}

export interface HealthRules {
  /** worker failures in a row that quarantine it */
  quarantineAfter: number;
  quarantineMs: number;
  /** failures of one workflow that block it on this worker */
  blockAfter: number;
}

export const DEFAULT_HEALTH_RULES: HealthRules = {
  quarantineAfter: 3,
  quarantineMs: 15 * 60_000,
  blockAfter: 2,
};

export const HEALTHY: WorkerHealth = { streak: 0, quarantinedUntil: null, workflowFailures: {}, blocked: [] };

export type HealthEvent =
  | { type: 'succeeded' }
  | { type: 'failed'; failure: FailureClass; workflowKey: string; at: number }
  | { type: 'released' }
  | { type: 'unblocked'; workflowKey?: string };

export function nextHealth(
  h: WorkerHealth,
  e: HealthEvent,
  rules: HealthRules = DEFAULT_HEALTH_RULES,
): WorkerHealth {
  switch (e.type) {
    case 'succeeded':
      return h.streak === 0 ? h : { ...h, streak: 0 };
    case 'released':
      return { ...h, streak: 0, quarantinedUntil: null };
    case 'unblocked': {
      if (e.workflowKey === undefined) return { ...h, blocked: [], workflowFailures: {} };
      const { [e.workflowKey]: _, ...rest } = h.workflowFailures;
      return { ...h, blocked: h.blocked.filter((k) => k !== e.workflowKey), workflowFailures: rest };
    }
    case 'failed': {
      if (e.failure === 'infrastructure') return h;
      const count = (h.workflowFailures[e.workflowKey] ?? 0) + 1;
      const workflowFailures = { ...h.workflowFailures, [e.workflowKey]: count };
      const blocked =
        count >= rules.blockAfter && !h.blocked.includes(e.workflowKey)
          ? [...h.blocked, e.workflowKey]
          : h.blocked;
      if (e.failure === 'workflow') return { ...h, workflowFailures, blocked };
      const streak = h.streak + 1;
      const quarantinedUntil =
        streak >= rules.quarantineAfter ? e.at + rules.quarantineMs : h.quarantinedUntil;
      return { streak, quarantinedUntil, workflowFailures, blocked };
    }
  }
}

export function isQuarantined(h: WorkerHealth, now: number): boolean {
  return h.quarantinedUntil !== null && now < h.quarantinedUntil;
}
