/**
 * A small file system of its own, to fill up: a tmpfs mount, or else an ext4
 * image on a loop device. Both need root; `reason` says why neither worked.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SmallDisk {
  /** the mounted folder */
  path: string;
  /** writes a filler file until the disk refuses (ENOSPC); answers the bytes written */
  fill(): number;
  /** deletes the filler */
  free(): void;
  unmount(): void;
}

export function mountSmallDisk(sizeMiB: number): SmallDisk | { reason: string } {
  const base = mkdtempSync(join(tmpdir(), 'cq-disk-'));
  const path = join(base, 'mnt');
  execFileSync('mkdir', ['-p', path]);
  const errors: string[] = [];
  let unmountExtra = () => {};
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', path], { stdio: 'pipe' });
  } catch (err) {
    errors.push(`tmpfs: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`);
    const image = join(base, 'disk.img');
    try {
      execFileSync('truncate', ['-s', `${sizeMiB}M`, image]);
      execFileSync('mkfs.ext4', ['-q', '-F', image], { stdio: 'pipe' });
      execFileSync('mount', ['-o', 'loop', image, path], { stdio: 'pipe' });
      unmountExtra = () => rmSync(image, { force: true });
      errors.length = 0;
    } catch (loopErr) {
      errors.push(`loop device: ${String((loopErr as { stderr?: Buffer }).stderr ?? loopErr).trim()}`);
      rmSync(base, { recursive: true, force: true });
      return { reason: `cannot mount a small file system (${errors.join('; ')})` };
    }
  }
  const filler = join(path, 'filler');
  return {
    path,
    fill() {
      const fd = openSync(filler, 'a');
      let written = 0;
      try {
        for (const size of [1 << 16, 1 << 12, 1 << 9, 1]) {
          const chunk = Buffer.alloc(size, 7);
          for (;;) {
            try {
              written += writeSync(fd, chunk);
            } catch (err) {
              if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
              throw err;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
      return written;
    },
    free() {
      rmSync(filler, { force: true });
    },
    unmount() {
      execFileSync('umount', ['-l', path]);
      unmountExtra();
      rmSync(base, { recursive: true, force: true });
    },
  };
}
