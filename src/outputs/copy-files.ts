/**
 * Copies every collected file of one job from its source to the target, under
 * its key. A failure says which side failed: the source (that job waits) or
 * the target (every job waits).
 */
import type { Job } from '../domain/job.js';
import { errMessage } from '../logging/logger.js';
import type { CollectedFile } from '../store/job-store.js';
import { collectKey, type KeyJob } from './collect-key.js';
import type { FileSource } from './file-source.js';
import { collectedFiles } from './output-files.js';
import type { OutputTarget } from './output-target.js';

export class StageError extends Error {
  constructor(
    readonly stage: 'source' | 'target',
    readonly error: unknown,
  ) {
    super(errMessage(error));
  }
}

/** Resolves the files stored, in order; rejects with a StageError. */
export async function copyJobFiles(
  job: Job,
  source: FileSource,
  target: OutputTarget,
  keyJob: KeyJob,
): Promise<CollectedFile[]> {
  const refs = collectedFiles(job.outputs);
  const out: CollectedFile[] = [];
  for (const [i, ref] of refs.entries()) {
    const key = collectKey(keyJob, ref, i + 1, refs.length);
    let body: Awaited<ReturnType<FileSource['open']>>;
    try {
      body = await source.open(job, ref);
    } catch (err) {
      throw new StageError('source', err);
    }
    // A source that streams may fail half-way: that is the source's failure, not the target's.
    let sourceError: unknown = null;
    body.once('error', (e) => {
      sourceError = e;
    });
    try {
      const { bytes } = await target.put(key, body);
      out.push({ key, bytes, filename: ref.filename, subfolder: ref.subfolder, type: ref.type });
    } catch (err) {
      body.destroy();
      throw sourceError ? new StageError('source', sourceError) : new StageError('target', err);
    }
  }
  return out;
}
