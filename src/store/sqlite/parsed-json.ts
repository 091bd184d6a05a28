/**
 * The parsed JSON of the jobs read again and again: the queue's head, which
 * the scheduler reads at every finish and every pass, and a job by id. Each
 * read parsed every job's graph, workflow and extra data again, though a
 * stored job's JSON never changes (a job id deleted and sent again is
 * caught: the text is compared). A few hundred values are kept, least
 * recently read first to go, within a bound on their text. Values are shared
 * between reads, as batch jobs' templates already are: whoever reads a job
 * must not change its graph (Job.prompt in domain/job.ts).
 */

interface Entry {
  text: string;
  value: unknown;
}

export class ParsedJson {
  private readonly entries = new Map<string, Entry>();
  private chars = 0;

  constructor(
    private readonly maxEntries = 512,
    private readonly maxChars = 4 * 1024 * 1024,
  ) {}

  /** How many values it keeps at most. */
  get capacity(): number {
    return this.maxEntries;
  }

  /** `JSON.parse(text)`, or the value kept for `key` when it was parsed from the same text. */
  parse<T>(key: string, text: string): T {
    const kept = this.entries.get(key);
    if (kept) {
      this.entries.delete(key);
      if (kept.text === text) {
        this.entries.set(key, kept);
        return kept.value as T;
      }
      this.chars -= kept.text.length;
    }
    const value = JSON.parse(text) as T;
    if (text.length > this.maxChars / 8) return value; // too big to keep beside the others
    this.entries.set(key, { text, value });
    this.chars += text.length;
    for (const [k, e] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.chars <= this.maxChars) break;
      this.entries.delete(k);
      this.chars -= e.text.length;
    }
    return value;
  }

  get size(): number {
    return this.entries.size;
  }
}
