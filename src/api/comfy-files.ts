/**
 * Which worker holds a file a job produced, for routing /view: recent
 * `executed` outputs seen on the websocket (the UI asks for them while the
 * job still runs), then the store's record of finished jobs' outputs.
 */
import type { JobStore } from '../store/job-store.js';

const MAX_RECENT = 5_000;

export class FileLocator {
  private readonly recent = new Map<string, string>();

  constructor(private readonly store: JobStore) {}

  private static key(type: string, subfolder: string, filename: string): string {
    return `${type}\u0000${subfolder}\u0000${filename}`;
  }

  /** Remembers every `{filename, subfolder, type}` item of a node's UI output. */
  remember(worker: string, output: unknown): void {
    if (!output || typeof output !== 'object') return;
    for (const items of Object.values(output as Record<string, unknown>)) {
      if (!Array.isArray(items)) continue;
      for (const item of items) {
        const f = item as { filename?: unknown; subfolder?: unknown; type?: unknown } | null;
        if (!f || typeof f.filename !== 'string') continue;
        const key = FileLocator.key(
          typeof f.type === 'string' ? f.type : 'output',
          typeof f.subfolder === 'string' ? f.subfolder : '',
          f.filename,
        );
        this.recent.delete(key);
        this.recent.set(key, worker);
        if (this.recent.size > MAX_RECENT) this.recent.delete(this.recent.keys().next().value as string);
      }
    }
  }

  async workerFor(type: string, subfolder: string, filename: string): Promise<string | null> {
    return (
      this.recent.get(FileLocator.key(type, subfolder, filename)) ??
      (await this.store.workerForFile(type, subfolder, filename))
    );
  }
}
