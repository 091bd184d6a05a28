/**
 * Every node a failed job's error names, in one flat list a person can read:
 * node id, class type and title, the input at fault and the message. Read
 * from ComfyUI's own answers kept in the job's error: the `node_errors` of a
 * refused prompt (`prompt_rejected`, `invalid_job`) or the node of an
 * `execution_error`. Titles come from the job's prompt (`_meta.title`).
 */
import type { JobError, PromptGraph } from './job.js';

export interface ErrorNode {
  node_id: string;
  class_type: string | null;
  title: string | null;
  /** the input at fault, when ComfyUI names one */
  input_name: string | null;
  /** ComfyUI's error type (`value_not_in_list`, ...) or the exception type */
  type: string;
  message: string;
  details: string | null;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export function errorNodes(error: JobError | null, prompt: PromptGraph): ErrorNode[] {
  if (!error) return [];
  const title = (id: string) => str(prompt[id]?._meta?.title) ?? null;
  const classOf = (id: string) => prompt[id]?.class_type ?? null;
  const details = isObject(error.details) ? error.details : null;
  const nodeErrors = details && isObject(details.node_errors) ? details.node_errors : null;
  if (nodeErrors) {
    const out: ErrorNode[] = [];
    for (const [id, ne] of Object.entries(nodeErrors)) {
      if (!isObject(ne)) continue;
      const classType = str(ne.class_type) ?? classOf(id);
      for (const e of Array.isArray(ne.errors) ? ne.errors : []) {
        if (!isObject(e)) continue;
        const extra = isObject(e.extra_info) ? e.extra_info : {};
        out.push({
          node_id: id,
          class_type: classType,
          title: title(id),
          input_name: str(extra.input_name),
          type: str(e.type) ?? 'error',
          message: str(e.message) ?? '',
          details: str(e.details) || null,
        });
      }
    }
    if (out.length) return out;
  }
  // A refusal naming one node without node_errors (missing_node_type) or an execution error.
  const top = details && isObject(details.error) ? details.error : null;
  const info = top && isObject(top.extra_info) ? top.extra_info : {};
  const id = error.node_id ?? str(info.node_id);
  if (!id) return [];
  return [
    {
      node_id: id,
      class_type: error.node_type ?? str(info.class_type) ?? classOf(id),
      title: title(id) ?? str(info.node_title),
      input_name: null,
      type: error.exception_type ?? str(top?.type) ?? error.type,
      message: error.message,
      details: null,
    },
  ];
}
