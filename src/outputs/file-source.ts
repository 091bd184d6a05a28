/**
 * Where a finished job's output files come from. Push workers serve them on
 * ComfyUI's `GET /view?filename=&subfolder=&type=`; an agent may hand them
 * over another way behind the same interface.
 */
import { Readable } from 'node:stream';
import { ComfyHttpError } from '../comfy/client.js';
import type { Job } from '../domain/job.js';
import type { OutputFileRef } from '../domain/thumbnail-source.js';

export interface FileSource {
  /**
   * The bytes of one output file of `job`. Rejects with `MissingFileError` when the file is known to
   * be gone (the worker answers 404, the worker is no longer known); any other rejection is transient.
   */
  open(job: Pick<Job, 'id' | 'worker'>, file: OutputFileRef): Promise<Readable>;
}

/** The file is not there to fetch: retrying a few times will not bring it back. */
export class MissingFileError extends Error {
  override name = 'MissingFileError';
}

/** Files fetched through each push worker's /view (`fetchFile` as the server makes it for thumbnails). */
export function comfyViewSource(
  fetchFile: (worker: string, file: OutputFileRef, jobId: string) => Promise<Buffer>,
  knows: (worker: string) => boolean,
): FileSource {
  return {
    async open(job, file) {
      if (!job.worker || !knows(job.worker))
        throw new MissingFileError(`worker ${job.worker ?? '(none)'} is not one of this server's workers`);
      try {
        return Readable.from([await fetchFile(job.worker, file, job.id)]);
      } catch (err) {
        if (err instanceof ComfyHttpError && err.status === 404)
          throw new MissingFileError(`worker ${job.worker} has no ${file.type} file ${fileLabel(file)}`);
        throw err;
      }
    },
  };
}

export function fileLabel(file: OutputFileRef): string {
  return file.subfolder ? `${file.subfolder}/${file.filename}` : file.filename;
}
