/**
 * Which push workers a server takes over (pure). Each worker is driven by at
 * most one server: the one whose ownership row has not expired. A server
 * takes the workers named on its own command line as soon as they are free;
 * another server's worker only once its owner's lease ended (the owner died
 * or lost the database), and then only up to its fair share of the workers
 * among the live servers, so that the workers of a dead server spread over
 * the others. A worker left without an owner for two leases is taken by
 * whoever sees it, share or not: no worker stays undriven.
 */
export interface OwnerRow {
  owner: string;
  expiresAt: number;
}

export interface OwnershipView {
  me: string;
  now: number;
  leaseMs: number;
  /** every registered push worker */
  workers: readonly string[];
  /** the workers this server's command line names */
  preferred: ReadonlySet<string>;
  owners: ReadonlyMap<string, OwnerRow>;
  /** the workers this server owns now */
  mine: ReadonlySet<string>;
  /** servers alive now, this one included */
  liveServers: number;
  /** when this server first saw each worker without a live owner */
  freeSince: ReadonlyMap<string, number>;
}

/** Whether nobody drives the worker now. */
export function isFree(row: OwnerRow | undefined, now: number): boolean {
  return row === undefined || row.expiresAt < now;
}

export function workersToTake(v: OwnershipView): string[] {
  const share = Math.ceil(v.workers.length / Math.max(1, v.liveServers));
  let held = v.mine.size;
  const take: string[] = [];
  const free = v.workers.filter((id) => !v.mine.has(id) && isFree(v.owners.get(id), v.now));
  // Own workers first, then the longest free.
  const order = (id: string) => (v.preferred.has(id) ? -Infinity : (v.freeSince.get(id) ?? v.now));
  for (const id of [...free].sort((a, b) => order(a) - order(b) || (a < b ? -1 : 1))) {
    const freeFor = v.now - (v.freeSince.get(id) ?? v.now);
    const row = v.owners.get(id);
    if (v.preferred.has(id)) take.push(id);
    else if (freeFor >= 2 * v.leaseMs) take.push(id);
    // Never owned: its server is starting and takes it first; expired: its owner is gone.
    else if ((row !== undefined || freeFor >= v.leaseMs) && held < share) take.push(id);
    else continue;
    held++;
  }
  return take;
}
