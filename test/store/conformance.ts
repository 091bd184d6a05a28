/**
 * The conformance suite every JobStore adapter runs: the same cases, written
 * against the interface only. An adapter's test file calls
 * `runStoreConformance` with a factory of fresh, initialised stores.
 */
import { describe } from 'node:test';
import type { JobStore } from '../../src/store/job-store.js';
import { agentCases } from './conformance/agent-cases.js';
import { claimCases } from './conformance/claim-cases.js';
import { collectionCases } from './conformance/collection-cases.js';
import { enqueueCases } from './conformance/enqueue-cases.js';
import type { StoreFactory } from './conformance/harness.js';
import type { AppendRule } from './conformance/order-model.js';
import { orderPropertyCases } from './conformance/order-property-cases.js';
import { queueEditCases } from './conformance/queue-edit-cases.js';
import { recordsCases } from './conformance/records-cases.js';
import { statusCases } from './conformance/status-cases.js';
import { writeFailureCases } from './conformance/write-failure-cases.js';

export type { StoreFactory } from './conformance/harness.js';

export interface ConformanceOptions {
  /** a second store on the same database, for the reopen and cross-connection cases (every adapter has one) */
  openAgain: StoreFactory['openAgain'];
  /** another connection's write lock on the database, for the lock cases */
  holdWriteLock: StoreFactory['holdWriteLock'];
  /** runs of each property test (fast-check) */
  numRuns?: number;
  /**
   * The stores of the property tests, which open a fresh one for each of their many runs
   * (default `make`): an adapter whose `make` is slow to start may give the same database
   * without a layer that every other case already goes through.
   */
  makeForProperties?: () => Promise<JobStore>;
  /** how the adapter numbers an appended job (order-model.ts); default `after-max` */
  append?: AppendRule;
}

export function runStoreConformance(
  name: string,
  make: () => Promise<JobStore>,
  options: ConformanceOptions,
) {
  const factory: StoreFactory = { make, openAgain: options.openAgain, holdWriteLock: options.holdWriteLock };
  describe(`JobStore conformance: ${name}`, () => {
    describe('enqueue and run order', () => enqueueCases(factory));
    describe('claiming', () => claimCases(factory));
    describe('status changes (compare-and-set)', () => statusCases(factory));
    describe('queue edits, counts, settings', () => queueEditCases(factory));
    describe('order against a model (property)', () =>
      orderPropertyCases(
        { ...factory, make: options.makeForProperties ?? make },
        options.numRuns ?? 40,
        options.append,
      ));
    describe('writes refused by a lock (commit-checked)', () => writeFailureCases(factory));
    describe('collected outputs', () => collectionCases(factory));
    describe('remote agents: enrollments and credentials', () => agentCases(factory));
    describe('thumbnails, workers, files', () => recordsCases(factory));
  });
}
