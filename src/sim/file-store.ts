/**
 * Where the simulator keeps files: `output`, `temp` and `input`, each a tree
 * of subfolders, in memory by default. With `outputDir`, the `output` type
 * lives on disk in that folder (like ComfyUI's `--output-directory`).
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type FileType = 'output' | 'temp' | 'input';

export class FileStore {
  private memory = new Map<string, Buffer>();
  private counters = new Map<string, number>();

  constructor(private readonly outputDir?: string) {}

  private onDisk(type: FileType): boolean {
    return type === 'output' && this.outputDir !== undefined;
  }

  private diskPath(subfolder: string, filename?: string): string {
    return filename === undefined
      ? join(this.outputDir!, subfolder)
      : join(this.outputDir!, subfolder, filename);
  }

  put(type: FileType, subfolder: string, filename: string, bytes: Buffer): void {
    if (this.onDisk(type)) {
      mkdirSync(this.diskPath(subfolder), { recursive: true });
      writeFileSync(this.diskPath(subfolder, filename), bytes);
      return;
    }
    this.memory.set(`${type}\0${subfolder}\0${filename}`, bytes);
  }

  get(type: FileType, subfolder: string, filename: string): Buffer | null {
    if (this.onDisk(type)) {
      try {
        return readFileSync(this.diskPath(subfolder, filename));
      } catch {
        return null;
      }
    }
    return this.memory.get(`${type}\0${subfolder}\0${filename}`) ?? null;
  }

  /** File names directly in one folder. */
  list(type: FileType, subfolder: string): string[] {
    if (this.onDisk(type)) {
      try {
        return readdirSync(this.diskPath(subfolder), { withFileTypes: true })
          .filter((d) => d.isFile())
          .map((d) => d.name);
      } catch {
        return [];
      }
    }
    const prefix = `${type}\0${subfolder}\0`;
    return [...this.memory.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
  }

  /**
   * The next counter for `<prefix>_<counter>_.png` names, as ComfyUI's
   * get_save_image_path: one more than the highest already in the folder
   * (scanned once per prefix, then counted here).
   */
  nextCounter(type: FileType, subfolder: string, prefix: string, count: number): number {
    const key = `${type}\0${subfolder}\0${prefix}`;
    let next = this.counters.get(key);
    if (next === undefined) {
      next = 1;
      const esc = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const re = new RegExp(`^${esc}_(\\d+)_`);
      for (const name of this.list(type, subfolder)) {
        const m = re.exec(name);
        if (m) next = Math.max(next, Number(m[1]) + 1);
      }
    }
    this.counters.set(key, next + count);
    return next;
  }
}
