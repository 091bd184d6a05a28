/**
 * How long a failed transfer waits before its next try: doubling from `baseMs`
 * up to `maxMs`, with up to a quarter more drawn at random (`random` in [0, 1))
 * so that many transfers failing together do not retry together. Pure.
 */
export interface BackoffRules {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffRules = { baseMs: 1_000, maxMs: 5 * 60_000 };

/** `failures` ≥ 1: the number of tries that failed so far. */
export function retryDelay(failures: number, rules: BackoffRules, random: number): number {
  const exp = Math.min(rules.maxMs, rules.baseMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
  return Math.round(exp * (1 + random / 4));
}
