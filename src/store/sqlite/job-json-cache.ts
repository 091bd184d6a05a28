/**
 * The parsed graph, workflow and extra data of the jobs read again and
 * again. The scheduler reads the first pending jobs at every finish and every
 * pass, and ComfyUI's web UI polls GET /queue: each read loaded and parsed
 * every job's JSON, tens of KB for a real workflow, though a stored job's
 * JSON never changes. A row is known by its id, its creation time and the
 * byte lengths of its three JSON columns (SQLite gives those without reading
 * the columns: octet_length), so a job read before costs neither. A job id
 * deleted and sent again has another creation time.
 *
 * The least recently read go first, beyond a number of jobs and of bytes.
 * Values are shared between reads, as batch jobs' templates already are:
 * whoever reads a job must not change its graph.
 */
import type { PromptGraph } from '../../domain/job.js';

export interface JobJson {
  prompt: PromptGraph;
  workflow: unknown | null;
  extraData: Record<string, unknown>;
}

/** What tells one stored version of a job's JSON from another. */
export interface JsonIdentity {
  created_at: number;
  prompt_bytes: number;
  workflow_bytes: number | null;
  extra_bytes: number;
}

interface Entry {
  identity: string;
  json: JobJson;
  bytes: number;
}

export function identityOf(r: JsonIdentity): string {
  return `${r.created_at}:${r.prompt_bytes}:${r.workflow_bytes ?? '-'}:${r.extra_bytes}`;
}

export class JobJsonCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;

  constructor(
    private readonly maxEntries = 512,
    private readonly maxBytes = 8 * 1024 * 1024,
  ) {}

  /** How many jobs it keeps at most. */
  get capacity(): number {
    return this.maxEntries;
  }

  /** The JSON kept for this version of the job, or undefined. */
  get(id: string, identity: string): JobJson | undefined {
    const kept = this.entries.get(id);
    if (!kept) return undefined;
    this.entries.delete(id);
    if (kept.identity !== identity) {
      this.bytes -= kept.bytes;
      return undefined;
    }
    this.entries.set(id, kept);
    return kept.json;
  }

  /** Keeps a job's parsed JSON, `bytes` the size of its text. */
  set(id: string, identity: string, json: JobJson, bytes: number): void {
    const old = this.entries.get(id);
    if (old) {
      this.entries.delete(id);
      this.bytes -= old.bytes;
    }
    if (bytes > this.maxBytes / 8) return; // too big to keep beside the others
    this.entries.set(id, { identity, json, bytes });
    this.bytes += bytes;
    for (const [k, e] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= e.bytes;
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
