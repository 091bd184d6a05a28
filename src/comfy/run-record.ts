/**
 * A prompt's outcome as its websocket messages told it (protocol §3.4, §3.5),
 * so that a run that ended well needs no `GET /history` round trip.
 *
 * ComfyUI sends `executed` to the prompt's client for every node that
 * produced UI output, and (v0.26) again for each cached output node with its
 * cached output or `null`; the history entry's `outputs` are those same
 * outputs by node id. The record answers only when the messages leave no
 * doubt, and otherwise says "read the history", which stays the reference:
 *  - no `execution_success` seen (an error, an interruption, a message lost);
 *  - any `execution_error`, even one the run went on after (an
 *    `ExecutionBlocked` note is not kept in history, but which it was is
 *    history's to say);
 *  - a node sent `executed` twice, or with `merge`;
 *  - a cached output node that sent no `executed` (an older ComfyUI, whose
 *    history adds cached outputs without re-sending them), or a cached node
 *    whose kind is not known.
 */
import type { JobOutputs } from '../domain/job.js';
import type { ComfyMessage } from './messages.js';
import type { Outcome } from './outcome.js';

export class RunRecord {
  private readonly outputs: JobOutputs = {};
  private readonly executed = new Set<string>();
  private cached: readonly string[] = [];
  private start: number | null = null;
  private end: number | null = null;
  private succeeded = false;
  private doubt = false;

  /** Takes one message of this prompt's run, in the order they came. */
  observe(message: ComfyMessage): void {
    switch (message.type) {
      case 'execution_start':
        this.start = message.data.timestamp ?? null;
        break;
      case 'execution_cached':
        this.cached = message.data.nodes;
        break;
      case 'executed': {
        const { node, output, merge } = message.data;
        if (this.executed.has(node) || merge) this.doubt = true;
        this.executed.add(node);
        if (output) this.outputs[node] = output;
        break;
      }
      case 'execution_success':
        this.succeeded = true;
        this.end = message.data.timestamp ?? null;
        break;
      case 'execution_error':
      case 'execution_interrupted':
        this.doubt = true;
        break;
    }
  }

  /**
   * The run's outcome when its messages describe it fully, else null (read
   * the history). `isOutputNode` says whether a node of the prompt is an
   * output node; undefined when that is not known.
   */
  outcome(isOutputNode: (nodeId: string) => boolean | undefined): Outcome | null {
    if (!this.succeeded || this.doubt) return null;
    for (const id of this.cached) {
      if (this.executed.has(id)) continue;
      if (isOutputNode(id) !== false) return null;
    }
    return {
      status: 'completed',
      outputs: this.outputs,
      error: null,
      executionStart: this.start,
      executionEnd: this.end,
    };
  }
}
