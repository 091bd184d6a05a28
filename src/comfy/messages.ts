/**
 * ComfyUI's websocket text messages (comfyui-protocol.md §3.4), as types and
 * as an edge parser. Messages from a ComfyUI server are outside data: they are
 * checked here, and unknown types are passed through as `unknown` messages.
 */
import { z } from 'zod';

const id = z.string();
const nullableId = z.string().nullable().optional();

export const StatusData = z.object({
  status: z.object({ exec_info: z.object({ queue_remaining: z.number() }) }),
  sid: z.string().optional(),
});
export const ExecutionStartData = z.object({ prompt_id: id, timestamp: z.number().optional() });
export const ExecutionCachedData = z.object({
  nodes: z.array(id),
  prompt_id: id,
  timestamp: z.number().optional(),
});
export const ExecutingData = z.object({
  node: z.string().nullable(),
  display_node: nullableId,
  prompt_id: z.string().optional(),
});
export const ProgressData = z.object({
  value: z.number(),
  max: z.number(),
  prompt_id: z.string().nullable().optional(),
  node: z.string().nullable().optional(),
});
export const NodeProgressState = z.object({
  value: z.number(),
  max: z.number(),
  state: z.string(),
  node_id: id,
  prompt_id: z.string().optional(),
  display_node_id: nullableId,
  parent_node_id: nullableId,
  real_node_id: nullableId,
});
export const ProgressStateData = z.object({
  prompt_id: id,
  nodes: z.record(z.string(), NodeProgressState),
});
export const ExecutedData = z.object({
  node: id,
  display_node: nullableId,
  output: z.record(z.string(), z.unknown()).nullable(),
  prompt_id: id,
  merge: z.boolean().optional(),
});
export const ExecutionSuccessData = z.object({ prompt_id: id, timestamp: z.number().optional() });
export const ExecutionErrorData = z.object({
  prompt_id: id,
  node_id: z.string().nullable().optional(),
  node_type: z.string().nullable().optional(),
  executed: z.array(z.string()).optional(),
  exception_message: z.string().optional(),
  exception_type: z.string().optional(),
  traceback: z.array(z.string()).optional(),
  current_inputs: z.unknown().optional(),
  current_outputs: z.unknown().optional(),
  timestamp: z.number().optional(),
});
export const ExecutionInterruptedData = z.object({
  prompt_id: id,
  node_id: z.string().nullable().optional(),
  node_type: z.string().nullable().optional(),
  executed: z.array(z.string()).optional(),
  timestamp: z.number().optional(),
});
export const FeatureFlagsData = z.record(z.string(), z.unknown());

export type StatusMessage = { type: 'status'; data: z.infer<typeof StatusData> };
export type ExecutionStartMessage = { type: 'execution_start'; data: z.infer<typeof ExecutionStartData> };
export type ExecutionCachedMessage = { type: 'execution_cached'; data: z.infer<typeof ExecutionCachedData> };
export type ExecutingMessage = { type: 'executing'; data: z.infer<typeof ExecutingData> };
export type ProgressMessage = { type: 'progress'; data: z.infer<typeof ProgressData> };
export type ProgressStateMessage = { type: 'progress_state'; data: z.infer<typeof ProgressStateData> };
export type ExecutedMessage = { type: 'executed'; data: z.infer<typeof ExecutedData> };
export type ExecutionSuccessMessage = {
  type: 'execution_success';
  data: z.infer<typeof ExecutionSuccessData>;
};
export type ExecutionErrorMessage = { type: 'execution_error'; data: z.infer<typeof ExecutionErrorData> };
export type ExecutionInterruptedMessage = {
  type: 'execution_interrupted';
  data: z.infer<typeof ExecutionInterruptedData>;
};
export type FeatureFlagsMessage = { type: 'feature_flags'; data: z.infer<typeof FeatureFlagsData> };
/** Any other type (custom nodes, logs, notifications): kept verbatim, never an error. */
export type UnknownMessage = { type: 'unknown'; rawType: string; data: unknown };

export type ComfyMessage =
  | StatusMessage
  | ExecutionStartMessage
  | ExecutionCachedMessage
  | ExecutingMessage
  | ProgressMessage
  | ProgressStateMessage
  | ExecutedMessage
  | ExecutionSuccessMessage
  | ExecutionErrorMessage
  | ExecutionInterruptedMessage
  | FeatureFlagsMessage
  | UnknownMessage;

const SCHEMAS = {
  status: StatusData,
  execution_start: ExecutionStartData,
  execution_cached: ExecutionCachedData,
  executing: ExecutingData,
  progress: ProgressData,
  progress_state: ProgressStateData,
  executed: ExecutedData,
  execution_success: ExecutionSuccessData,
  execution_error: ExecutionErrorData,
  execution_interrupted: ExecutionInterruptedData,
  feature_flags: FeatureFlagsData,
} as const;

export type KnownMessageType = keyof typeof SCHEMAS;

/** Messages that carry a prompt_id belonging to one prompt's execution. */
export const EXECUTION_MESSAGE_TYPES: readonly KnownMessageType[] = [
  'execution_start',
  'execution_cached',
  'executing',
  'progress',
  'progress_state',
  'executed',
  'execution_success',
  'execution_error',
  'execution_interrupted',
];

export type ParseResult = { ok: true; message: ComfyMessage } | { ok: false; reason: string };

/** Parses one websocket text frame from ComfyUI. */
export function parseComfyMessage(text: string): ParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // The caller decides what an unreadable frame means: the reason says why.
    return { ok: false, reason: 'not JSON' };
  }
  if (!raw || typeof raw !== 'object' || typeof (raw as { type?: unknown }).type !== 'string') {
    return { ok: false, reason: 'no type' };
  }
  const { type, data } = raw as { type: string; data: unknown };
  if (type === 'progress_state') {
    const bad = progressStateProblem(data);
    if (bad) return { ok: false, reason: `bad progress_state: ${bad}` };
    return { ok: true, message: { type, data: data as ProgressStateMessage['data'] } };
  }
  const schema = (SCHEMAS as Record<string, z.ZodType>)[type];
  if (!schema) return { ok: true, message: { type: 'unknown', rawType: type, data } };
  const parsed = schema.safeParse(data);
  if (!parsed.success) return { ok: false, reason: `bad ${type}: ${parsed.error.issues[0]?.message ?? ''}` };
  return { ok: true, message: { type, data: parsed.data } as ComfyMessage };
}

const optionalId = (v: unknown) => v === undefined || v === null || typeof v === 'string';

/**
 * What is wrong with a progress_state payload against ProgressStateData, or
 * null: the same rules, checked in place. It is the most frequent and largest
 * message (every node run so far, at every node start, step and finish), and
 * zod's parse copies every entry.
 */
export function progressStateProblem(data: unknown): string | null {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return 'not an object';
  const { prompt_id, nodes } = data as { prompt_id?: unknown; nodes?: unknown };
  if (typeof prompt_id !== 'string') return 'prompt_id is not a string';
  if (!nodes || typeof nodes !== 'object' || Array.isArray(nodes)) return 'nodes is not an object';
  for (const key in nodes) {
    const e = (nodes as Record<string, unknown>)[key] as Record<string, unknown> | null;
    if (!e || typeof e !== 'object' || Array.isArray(e)) return `nodes.${key} is not an object`;
    if (!Number.isFinite(e.value) || !Number.isFinite(e.max))
      return `nodes.${key}: value and max are numbers`;
    if (typeof e.state !== 'string' || typeof e.node_id !== 'string')
      return `nodes.${key}: state and node_id are strings`;
    if (e.prompt_id !== undefined && typeof e.prompt_id !== 'string') return `nodes.${key}.prompt_id`;
    if (!optionalId(e.display_node_id) || !optionalId(e.parent_node_id) || !optionalId(e.real_node_id))
      return `nodes.${key}: display_node_id, parent_node_id and real_node_id are strings or null`;
  }
  return null;
}

/** The prompt_id a message belongs to, when it says. */
export function promptIdOf(message: ComfyMessage): string | null {
  if (message.type === 'unknown' || message.type === 'status' || message.type === 'feature_flags')
    return null;
  const pid = (message.data as { prompt_id?: unknown }).prompt_id;
  return typeof pid === 'string' ? pid : null;
}
