/**
 * One comfy-queue per data folder. SQLite in WAL mode lets a second process
 * open the same database and both would dispatch the same jobs, so `serve`
 * takes `comfy-queue.lock` in the folder first: created exclusively (`wx`),
 * holding the owner's pid, host and (on Linux) the kernel's start time of that
 * pid. A lock whose process is gone — killed with -9, say — is stale and is
 * taken over; a pid that now belongs to another process (its start time
 * differs) is gone too.
 */
import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const LOCK_FILE = 'comfy-queue.lock';

/** The data folder cannot be used: it is a file, cannot be created or written, or another process holds it. */
export class DataFolderError extends Error {
  override name = 'DataFolderError';
  constructor(
    message: string,
    /** `unusable`: a bad folder (a configuration mistake); `in-use`: another comfy-queue holds it */
    readonly kind: 'unusable' | 'in-use',
  ) {
    super(message);
  }
}

export interface DataLock {
  readonly file: string;
  /** Removes the lock file if it is still this process's. */
  release(): void;
}

interface LockRecord {
  pid: number;
  host: string;
  /** /proc/<pid>/stat start time, null off Linux */
  start: string | null;
  since: string;
}

/** Lock files held by this process, so that a second server in the same process is refused too. */
const held = new Set<string>();

/** Creates `dir` if needed and locks it for this process, or throws DataFolderError. */
export function acquireDataLock(dir: string): DataLock {
  prepareFolder(dir);
  const file = join(dir, LOCK_FILE);
  const me: LockRecord = {
    pid: process.pid,
    host: hostname(),
    start: processStart(process.pid),
    since: new Date().toISOString(),
  };
  // Two tries: the second after removing a stale lock.
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o644);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') throw unusable(dir, err);
      const owner = readRecord(file);
      if (owner && isAlive(owner, file)) {
        throw new DataFolderError(
          `data folder ${dir} is in use by comfy-queue process ${owner.pid}` +
            `${owner.host === me.host ? '' : ` on ${owner.host}`} (since ${owner.since}; lock file ${file}). ` +
            'Stop that server, or give another --data.',
          'in-use',
        );
      }
      try {
        unlinkSync(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw unusable(dir, e);
      }
      continue;
    }
    try {
      writeSync(fd, `${JSON.stringify(me)}\n`);
    } finally {
      closeSync(fd);
    }
    held.add(file);
    return {
      file,
      release() {
        if (!held.delete(file)) return;
        const now = readRecord(file);
        if (now && now.pid === me.pid && now.since === me.since) unlinkSync(file);
      },
    };
  }
  throw new DataFolderError(
    `data folder ${dir}: another process keeps taking ${LOCK_FILE}; try again`,
    'in-use',
  );
}

function prepareFolder(dir: string): void {
  try {
    const st = statSync(dir, { throwIfNoEntry: false });
    if (st && !st.isDirectory()) {
      throw new DataFolderError(`--data ${dir}: is a file, not a folder`, 'unusable');
    }
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    if (err instanceof DataFolderError) throw err;
    throw unusable(dir, err);
  }
}

function unusable(dir: string, err: unknown): DataFolderError {
  const e = err as NodeJS.ErrnoException;
  const why: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'the file system is read-only',
    ENOTDIR: 'a part of the path is a file, not a folder',
    EEXIST: 'is a file, not a folder',
    ENOSPC: 'the disk is full',
  };
  const reason = (e.code && why[e.code]) ?? e.message;
  return new DataFolderError(`--data ${dir}: cannot use it as the data folder (${reason})`, 'unusable');
}

function readRecord(file: string): LockRecord | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const r = JSON.parse(text) as Partial<LockRecord>;
    if (typeof r.pid !== 'number' || typeof r.host !== 'string') return null;
    return { pid: r.pid, host: r.host, start: r.start ?? null, since: String(r.since ?? '') };
  } catch {
    // A lock cut short by a crash between create and write: nobody holds it.
    return null;
  }
}

function isAlive(owner: LockRecord, file: string): boolean {
  // Another host's process cannot be checked from here: assume it runs.
  if (owner.host !== hostname()) return true;
  if (owner.pid === process.pid) return held.has(file);
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = procStat(owner.pid);
  // A zombie (killed, not yet reaped by its parent) holds nothing.
  if (stat && (stat.state === 'Z' || stat.state === 'X')) return false;
  return owner.start === null || !stat?.start || stat.start === owner.start;
}

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. */
function processStart(pid: number): string | null {
  return procStat(pid)?.start ?? null;
}

/** State (field 3) and start time (field 22) of /proc/<pid>/stat; null off Linux or when there is no such process. */
function procStat(pid: number): { state: string; start: string | null } | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', start: fields[19] ?? null };
}
