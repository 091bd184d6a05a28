/**
 * ComfyUI's in-memory history (comfyui-protocol.md §2.8, §4.4): entries in
 * completion order, a re-used prompt_id keeps its old position (Python dict
 * semantics, same as Map), capped at 10 000 (+1) entries.
 */
export interface HistoryEntry {
  prompt: unknown[];
  outputs: Record<string, unknown>;
  status: { status_str: 'success' | 'error'; completed: boolean; messages: [string, unknown][] };
  meta: Record<string, unknown>;
}

export const MAX_HISTORY = 10_000;

export class History {
  private entries = new Map<string, HistoryEntry>();

  add(promptId: string, entry: HistoryEntry): void {
    if (this.entries.size > MAX_HISTORY) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(promptId, entry);
  }

  get(promptId: string): HistoryEntry | undefined {
    return this.entries.get(promptId);
  }

  delete(promptId: string): void {
    this.entries.delete(promptId);
  }

  clear(): void {
    this.entries.clear();
  }

  /**
   * PromptQueue.get_history: without `offset`, `maxItems` = the last N; with
   * `offset` = from that index (oldest first), at most `maxItems`.
   */
  list(maxItems: number | null, offset: number | null): Record<string, HistoryEntry> {
    let start = offset ?? -1;
    if (start < 0 && maxItems !== null) start = this.entries.size - maxItems;
    const out: Record<string, HistoryEntry> = {};
    let i = 0;
    let n = 0;
    for (const [id, entry] of this.entries) {
      if (i >= start) {
        out[id] = entry;
        n++;
        if (maxItems !== null && n >= maxItems) break;
      }
      i++;
    }
    return out;
  }
}
