/**
 * ComfyUI's pending queue (comfyui-protocol.md §4.1): a binary min-heap of
 * items ordered by (number, prompt_id), kept as Python's heapq keeps it, so
 * `GET /queue` shows `queue_pending` in the same heap-array order.
 */
import type { ApiPrompt } from '../domain/prompt-graph.js';

export interface QueueItem {
  number: number;
  promptId: string;
  prompt: ApiPrompt;
  extraData: Record<string, unknown>;
  outputs: string[];
  /** extra_data keys hidden from /queue and /history (ComfyUI's 6th tuple slot). */
  sensitive: Record<string, unknown>;
}

/** The 5-element array ComfyUI exposes for a queue or history item. */
export function exposed(item: QueueItem): [number, string, ApiPrompt, Record<string, unknown>, string[]] {
  return [item.number, item.promptId, item.prompt, item.extraData, item.outputs];
}

const less = (a: QueueItem, b: QueueItem) =>
  a.number < b.number || (a.number === b.number && a.promptId < b.promptId);

export class PromptQueue {
  private heap: QueueItem[] = [];

  get size(): number {
    return this.heap.length;
  }

  /** Items in heap-array order, not execution order. */
  items(): readonly QueueItem[] {
    return this.heap;
  }

  push(item: QueueItem): void {
    this.heap.push(item);
    this.siftDown(0, this.heap.length - 1);
  }

  pop(): QueueItem | undefined {
    const last = this.heap.pop();
    if (!last || this.heap.length === 0) return last;
    const top = this.heap[0]!;
    this.heap[0] = last;
    this.siftUp(0);
    return top;
  }

  /** Removes the first item (in heap order) with this prompt_id; true when one was removed. */
  delete(promptId: string): boolean {
    const i = this.heap.findIndex((x) => x.promptId === promptId);
    if (i < 0) return false;
    this.heap.splice(i, 1);
    this.heapify();
    return true;
  }

  clear(): void {
    this.heap = [];
  }

  private heapify(): void {
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.siftUp(i);
  }

  // heapq._siftdown: move the item at `pos` up towards `start`.
  private siftDown(start: number, pos: number): void {
    const h = this.heap;
    const item = h[pos]!;
    while (pos > start) {
      const parentPos = (pos - 1) >> 1;
      const parent = h[parentPos]!;
      if (!less(item, parent)) break;
      h[pos] = parent;
      pos = parentPos;
    }
    h[pos] = item;
  }

  // heapq._siftup: move the smaller child up until a leaf, then sift the item down.
  private siftUp(pos: number): void {
    const h = this.heap;
    const end = h.length;
    const start = pos;
    const item = h[pos]!;
    let child = 2 * pos + 1;
    while (child < end) {
      const right = child + 1;
      if (right < end && !less(h[child]!, h[right]!)) child = right;
      h[pos] = h[child]!;
      pos = child;
      child = 2 * pos + 1;
    }
    h[pos] = item;
    this.siftDown(start, pos);
  }
}
