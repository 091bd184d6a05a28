/**
 * What the API asks of output collection: a job's `collection` state and a
 * collected file's bytes. Works with collection off too: files collected
 * into a folder earlier are still served from it.
 */
import type { Readable } from 'node:stream';
import { QueueError } from '../domain/errors.js';
import type { Job } from '../domain/job.js';
import { errMessage, type Logger } from '../logging/logger.js';
import type { JobStore } from '../store/job-store.js';
import { type CollectionJson, collectionJson } from './collection-json.js';
import type { OutputCollector } from './collector.js';
import { outputContentType } from './content-type.js';
import { FolderTarget } from './folder-target.js';
import type { OutputTarget } from './output-target.js';

export interface CollectedOutput {
  key: string;
  body: Readable;
  bytes: number | null;
  contentType: string;
}

export class Outputs {
  constructor(
    private readonly store: JobStore,
    /** null when collection is off */
    private readonly collector: OutputCollector | null,
    private readonly log: Logger,
  ) {}

  async collectionOf(job: Job): Promise<CollectionJson | null> {
    if (job.status !== 'completed') return null;
    const [record] = await this.store.getCollections([job.id]);
    const c = this.collector;
    return collectionJson(job, record ?? null, c ? { since: c.since, target: c.target.name } : null);
  }

  /**
   * Whether a completed job's outputs are stored; null when collection is off. A job an external
   * worker reported complete (the tracker's API) stored its file with the report.
   */
  async collected(job: Job): Promise<boolean | null> {
    if (!this.collector) return null;
    if (job.outputs && 'external' in job.outputs) return true;
    const [record] = await this.store.getCollections([job.id]);
    return record?.state === 'stored' && record.endedAt === job.endedAt;
  }

  /** Collected file `n` (from 1) of a job; QueueError when there is none. */
  async open(job: Job, n: number): Promise<CollectedOutput> {
    const [record] = await this.store.getCollections([job.id]);
    if (record?.state !== 'stored' || record.endedAt !== job.endedAt) {
      throw new QueueError('OUTPUT_NOT_COLLECTED');
    }
    const file = record.files[n - 1];
    if (!file) throw new QueueError('OUTPUT_NOT_FOUND');
    const target = this.targetNamed(record.target);
    if (!target) {
      throw new QueueError(
        'OUTPUT_NOT_COLLECTED',
        `The outputs were collected to ${record.target}, which this server no longer collects to.`,
      );
    }
    let found: Awaited<ReturnType<OutputTarget['open']>>;
    try {
      found = await target.open(file.key);
    } catch (err) {
      this.log.warn({ job: job.id, key: file.key, err }, `collected output not read: ${errMessage(err)}`);
      throw new QueueError('OUTPUT_UNREACHABLE');
    }
    if (!found) throw new QueueError('OUTPUT_NOT_FOUND', `${file.key} is no longer in ${record.target}.`);
    return { key: file.key, body: found.body, bytes: found.bytes, contentType: outputContentType(file.key) };
  }

  private targetNamed(name: string): OutputTarget | null {
    if (this.collector && this.collector.target.name === name) return this.collector.target;
    if (name.startsWith('file://')) return new FolderTarget(name.slice('file://'.length));
    return null;
  }
}
