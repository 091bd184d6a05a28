/**
 * Where a collected file goes, relative to the collect folder or the bucket's
 * prefix. Pure.
 *
 * - An item of a batch: `<batch>/<index>.<ext>`, or `<batch>/<index>_<n>.<ext>`
 *   when the item has several output files (n from 1, in the order of its outputs).
 * - Any other job: `jobs/<YYYY-MM-DD>/<job id>.<ext>` (or `<job id>_<n>.<ext>`), the
 *   day it was created (UTC). Job ids are unique, so two jobs never share a key,
 *   and a folder holds one day's jobs.
 *
 * `<ext>` is the extension of the file on the worker, lower-cased (`bin` when
 * it has none). A batch name is made safe as one path segment: characters
 * other than letters, digits, `.`, `_`, `-` and space become `_`, and it never
 * starts with a dot.
 */
export interface KeyJob {
  id: string;
  name?: string | null;
  /** the batch the job is an item of, if any */
  batchName?: string | null;
  /** its 1-based index in the batch */
  index?: number | null;
  /** ms since epoch */
  createdAt: number;
}

export interface KeyFile {
  filename: string;
}

/** `n` is the file's 1-based number among the job's `count` output files. */
export function collectKey(job: KeyJob, file: KeyFile, n: number, count: number): string {
  const ext = extensionOf(file.filename);
  const suffix = count > 1 ? `_${n}` : '';
  if (job.batchName && job.index != null) {
    return `${safeSegment(job.batchName)}/${job.index}${suffix}.${ext}`;
  }
  const day = new Date(job.createdAt).toISOString().slice(0, 10);
  return `jobs/${day}/${job.id}${suffix}.${ext}`;
}

export function extensionOf(filename: string): string {
  const base = filename.slice(filename.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  const ext = dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
  return /^[a-z0-9]{1,12}$/.test(ext) ? ext : 'bin';
}

export function safeSegment(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._ -]/g, '_').replace(/^\.+/, (dots) => '_'.repeat(dots.length));
  return s.trim() === '' ? '_' : s.slice(0, 200);
}
