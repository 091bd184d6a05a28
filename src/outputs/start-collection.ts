/**
 * Output collection as the server runs it: the target `--collect` names, the
 * collector following the event bus, and the API's view of both. Started
 * before the engine, so that no job completes unheard (and the start-up sweep
 * finds what completed before a crash).
 */
import { join } from 'node:path';
import type { Job } from '../domain/job.js';
import type { OutputFileRef } from '../domain/thumbnail-source.js';
import type { EventBus } from '../engine/events.js';
import type { Logger } from '../logging/logger.js';
import { DataFolderError } from '../store/data-lock.js';
import type { JobStore } from '../store/job-store.js';
import type { BackoffRules } from './backoff.js';
import type { KeyJob } from './collect-key.js';
import type { CollectTarget } from './collect-target.js';
import { OutputCollector } from './collector.js';
import { comfyViewSource, type FileSource } from './file-source.js';
import { FolderTarget } from './folder-target.js';
import type { OutputTarget } from './output-target.js';
import { Outputs } from './outputs.js';
import { S3Target } from './s3-target.js';

/** Knobs for tests; the defaults suit a server. */
export interface CollectTuning {
  backoff?: BackoffRules;
  sweepMs?: number;
  concurrency?: number;
  /** a request to the bucket without an answer for this long fails (default 60 s) */
  timeoutMs?: number;
}

export interface CollectionDeps {
  store: JobStore;
  bus: EventBus;
  dataDir: string;
  target: CollectTarget;
  /** the bytes of a file held by a push worker (its /view) */
  fetchFile(worker: string, file: OutputFileRef, jobId: string): Promise<Buffer>;
  /** whether a worker is one of this server's */
  knowsWorker(worker: string): boolean;
  /** another way to get the files (agents); default: the workers' /view */
  source?: FileSource;
  /** the batch name and index of a job that is an item of a batch */
  keyJob?(job: Job): KeyJob;
  now(): number;
  log: Logger;
  tuning?: CollectTuning;
  /** with several servers: recent completions are left to the server that ran them (CollectorOptions) */
  sweepGraceMs?: number;
}

export interface Collection {
  outputs: Outputs;
  collector: OutputCollector | null;
  close(): Promise<void>;
}

export async function startCollection(deps: CollectionDeps): Promise<Collection> {
  const target = makeTarget(deps);
  if (!target)
    return { outputs: new Outputs(deps.store, null, deps.log), collector: null, close: async () => {} };
  try {
    await target.init();
  } catch (err) {
    throw new DataFolderError((err as Error).message, 'unusable');
  }
  const collector = new OutputCollector(deps.store, deps.bus, {
    target,
    source: deps.source ?? comfyViewSource(deps.fetchFile, deps.knowsWorker),
    now: deps.now,
    random: Math.random,
    log: deps.log,
    ...(deps.keyJob ? { keyJob: deps.keyJob } : {}),
    ...(deps.tuning?.backoff ? { backoff: deps.tuning.backoff } : {}),
    ...(deps.tuning?.sweepMs ? { sweepMs: deps.tuning.sweepMs } : {}),
    ...(deps.sweepGraceMs ? { sweepGraceMs: deps.sweepGraceMs } : {}),
    ...(deps.tuning?.concurrency ? { concurrency: deps.tuning.concurrency } : {}),
  });
  await collector.start();
  deps.log.info({ target: target.name }, `collecting outputs to ${target.name}`);
  return { outputs: new Outputs(deps.store, collector, deps.log), collector, close: () => collector.close() };
}

function makeTarget(deps: CollectionDeps): OutputTarget | null {
  const t = deps.target;
  if (t.kind === 'off') return null;
  if (t.kind === 'folder') return new FolderTarget(t.dir ?? join(deps.dataDir, 'outputs'));
  return new S3Target(t, join(deps.dataDir, 'collect-spool'), {
    now: deps.now,
    timeoutMs: deps.tuning?.timeoutMs ?? 60_000,
  });
}
