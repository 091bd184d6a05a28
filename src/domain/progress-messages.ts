/**
 * The ComfyUI websocket messages the progress tracker reads, described
 * structurally so that the domain needs nothing from `src/comfy`: the edge
 * parser's `ComfyMessage` is assignable to `ProgressInput` (checked by a
 * type-level test). Only the fields the tracker uses are named; the rest of
 * each payload is allowed and ignored.
 */

/** One node's entry in a `progress_state` snapshot (protocol §3.4). */
export interface NodeProgressEntry {
  value: number;
  max: number;
  /** `running` | `finished` (`error` exists in the enum but core never sets it) */
  state: string;
  node_id?: string;
  display_node_id?: string | null;
  parent_node_id?: string | null;
  real_node_id?: string | null;
}

export type TrackedMessage =
  | { type: 'execution_start'; data: { prompt_id: string } }
  | { type: 'execution_cached'; data: { prompt_id: string; nodes: readonly string[] } }
  /** `prompt_id` is absent on the replayed `executing` a reconnecting socket gets (§3.1) */
  | { type: 'executing'; data: { node: string | null; display_node?: string | null; prompt_id?: string } }
  | {
      type: 'progress';
      data: { value: number; max: number; prompt_id?: string | null; node?: string | null };
    }
  | {
      type: 'progress_state';
      data: { prompt_id: string; nodes: Readonly<Record<string, NodeProgressEntry>> };
    }
  | {
      type: 'executed';
      data: {
        prompt_id: string;
        node: string;
        display_node?: string | null;
        output: Readonly<Record<string, unknown>> | null;
        merge?: boolean;
      };
    }
  | { type: 'execution_success'; data: { prompt_id: string } }
  | {
      type: 'execution_error';
      data: {
        prompt_id: string;
        node_id?: string | null;
        node_type?: string | null;
        exception_message?: string;
        exception_type?: string;
      };
    }
  | {
      type: 'execution_interrupted';
      data: { prompt_id: string; node_id?: string | null; node_type?: string | null };
    };

/**
 * Anything else on the socket (`status`, `feature_flags`, custom-node
 * events): accepted and ignored, so the driver can feed every message as is.
 */
export interface OtherMessage {
  type: string;
  data?: unknown;
}

export type ProgressInput = TrackedMessage | OtherMessage;

export type TrackedType = TrackedMessage['type'];

const TRACKED_TYPES: ReadonlySet<string> = new Set<TrackedType>([
  'execution_start',
  'execution_cached',
  'executing',
  'progress',
  'progress_state',
  'executed',
  'execution_success',
  'execution_error',
  'execution_interrupted',
]);

export function isTracked(message: ProgressInput): message is TrackedMessage {
  return TRACKED_TYPES.has(message.type);
}

/** The prompt a tracked message belongs to, or null when it does not say. */
export function promptIdOf(message: TrackedMessage): string | null {
  const pid = message.data.prompt_id;
  return typeof pid === 'string' ? pid : null;
}
