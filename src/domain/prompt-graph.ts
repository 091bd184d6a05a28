/**
 * ComfyUI's prompt validation (`execution.validate_prompt`, comfyui-protocol.md
 * §2.1–2.2) as a pure function over an object_info map, so that the queue
 * server can refuse a prompt with ComfyUI's exact answer before storing it,
 * and the simulator answers like ComfyUI. Messages and detail strings follow
 * ComfyUI v0.25 (see comfyui-transcripts/04_prompt_id_rules.json).
 */

/** One input's spec: `[type, options]`; `type` is a type name, "COMBO", or the list of combo options. */
export type InputSpec = readonly [string | readonly unknown[], Record<string, unknown>?];

/** A node class as `GET /object_info` describes it (legacy V1 shape). */
export interface NodeInfo {
  input: {
    required?: Record<string, InputSpec>;
    optional?: Record<string, InputSpec>;
    hidden?: Record<string, unknown>;
  };
  input_order?: Record<string, string[]>;
  is_input_list?: boolean;
  output: (string | unknown[])[];
  output_is_list: boolean[];
  output_name: string[];
  name: string;
  display_name: string;
  description: string;
  python_module: string;
  category: string;
  output_node: boolean;
  has_intermediate_output?: boolean;
  search_aliases?: string[];
  [extra: string]: unknown;
}

export type ObjectInfoMap = Record<string, NodeInfo>;

export interface ComfyError {
  type: string;
  message: string;
  details: string;
  extra_info: Record<string, unknown>;
}

export interface NodeError {
  errors: ComfyError[];
  dependent_outputs: string[];
  class_type: string;
}

export type NodeErrors = Record<string, NodeError>;

/** An API-format prompt: node id → `{class_type, inputs, _meta?}`. */
export type ApiPrompt = Record<
  string,
  { class_type: string; inputs: Record<string, unknown>; _meta?: unknown }
>;

export type ValidationResult =
  | { ok: true; prompt: ApiPrompt; outputs: string[]; nodeErrors: NodeErrors }
  | { ok: false; status: 400; body: { error: ComfyError; node_errors: NodeErrors } };

const fail = (error: ComfyError, nodeErrors: NodeErrors = {}): ValidationResult => ({
  ok: false,
  status: 400,
  body: { error, node_errors: nodeErrors },
});

/** The 400 body of `POST /prompt` without a `prompt` key. */
export function noPromptError(): { error: ComfyError; node_errors: NodeErrors } {
  const message = 'No prompt provided';
  return { error: { type: 'no_prompt', message, details: message, extra_info: {} }, node_errors: {} };
}

/** The 400 body for a `prompt_id` that is not a canonical lowercase UUID (ComfyUI v0.24+). */
export function invalidPromptIdError(): { error: ComfyError; node_errors: NodeErrors } {
  return {
    error: {
      type: 'invalid_prompt_id',
      message: 'prompt_id must be a valid UUID',
      details:
        'prompt_id must be a UUID string in canonical lowercase hyphenated form; omit it to let the server generate one',
      extra_info: {},
    },
    node_errors: {},
  };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Python's `str()` of a JSON value, for detail strings. */
export function pyStr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return pyRepr(v);
}

function pyRepr(v: unknown): string {
  if (typeof v === 'string')
    return v.includes("'") && !v.includes('"') ? `"${v}"` : `'${v.replace(/'/g, "\\'")}'`;
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (isObject(v))
    return `{${Object.entries(v)
      .map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`)
      .join(', ')}}`;
  return pyStr(v);
}

const pyFloat = (n: number): string => (Number.isInteger(n) && Math.abs(n) < 1e16 ? `${n}.0` : String(n));

const pyTypeName = (v: unknown): string =>
  v === null || v === undefined ? 'NoneType' : Array.isArray(v) ? 'list' : isObject(v) ? 'dict' : typeof v;

/** Python's int()/float()/str()/bool() as ComfyUI applies them to literal inputs. */
function convert(type: string, val: unknown): { ok: true; value: unknown } | { ok: false; error: string } {
  if (type === 'INT') {
    if (typeof val === 'boolean') return { ok: true, value: val ? 1 : 0 };
    if (typeof val === 'number') return { ok: true, value: Math.trunc(val) };
    if (typeof val === 'string' && /^[+-]?\d+(_\d+)*$/.test(val.trim())) {
      return { ok: true, value: Number(val.trim().replace(/_/g, '')) };
    }
    if (typeof val === 'string') {
      return { ok: false, error: `invalid literal for int() with base 10: ${pyRepr(val)}` };
    }
    return {
      ok: false,
      error: `int() argument must be a string, a bytes-like object or a real number, not '${pyTypeName(val)}'`,
    };
  }
  if (type === 'FLOAT') {
    if (typeof val === 'boolean') return { ok: true, value: val ? 1 : 0 };
    if (typeof val === 'number') return { ok: true, value: val };
    if (typeof val === 'string') {
      const t = val.trim();
      if (/^[+-]?(inf|infinity)$/i.test(t))
        return { ok: true, value: t.startsWith('-') ? -Infinity : Infinity };
      if (/^[+-]?nan$/i.test(t)) return { ok: true, value: Number.NaN };
      if (/^[+-]?(\d[\d_]*\.?[\d_]*|\.\d[\d_]*)([eE][+-]?\d+)?$/.test(t)) {
        return { ok: true, value: Number(t.replace(/_/g, '')) };
      }
      return { ok: false, error: `could not convert string to float: ${pyRepr(val)}` };
    }
    return {
      ok: false,
      error: `float() argument must be a string or a real number, not '${pyTypeName(val)}'`,
    };
  }
  if (type === 'STRING') return { ok: true, value: pyStr(val) };
  if (type === 'BOOLEAN') {
    const falsy =
      val === null || val === false || val === 0 || val === '' || (isObject(val) && !Object.keys(val).length);
    return { ok: true, value: !falsy };
  }
  return { ok: true, value: val };
}

// validate_node_input: exact match, "*" wildcard, or overlapping comma-separated unions.
function typesCompatible(received: unknown, expected: unknown): boolean {
  if (received === expected) return true;
  if (typeof received !== 'string' || typeof expected !== 'string') return false;
  const r = new Set(received.split(',').map((t) => t.trim()));
  const e = new Set(expected.split(',').map((t) => t.trim()));
  if (r.has('*') || e.has('*')) return true;
  for (const t of r) if (e.has(t)) return true;
  return false;
}

type Verdict = readonly [valid: boolean, errors: ComfyError[]];

class ValidationException extends Error {
  constructor(
    message: string,
    readonly pyType: string,
  ) {
    super(message);
  }
}

function validateNode(
  prompt: ApiPrompt,
  id: string,
  info: ObjectInfoMap,
  validated: Map<string, Verdict>,
  visiting: Set<string>,
): Verdict {
  const known = validated.get(id);
  if (known) return known;
  // ComfyUI recurses without a guard and dies of RecursionError on a cycle.
  if (visiting.has(id)) {
    throw new ValidationException(
      'maximum recursion depth exceeded while calling a Python object',
      'RecursionError',
    );
  }
  visiting.add(id);
  const node = prompt[id]!;
  const cls = info[node.class_type]!;
  const inputs = node.inputs;
  const errors: ComfyError[] = [];
  let valid = true;
  const specs: [string, InputSpec, boolean][] = [
    ...Object.entries(cls.input.required ?? {}).map(([k, s]) => [k, s, true] as [string, InputSpec, boolean]),
    ...Object.entries(cls.input.optional ?? {}).map(
      ([k, s]) => [k, s, false] as [string, InputSpec, boolean],
    ),
  ];
  for (const [name, spec, required] of specs) {
    const inputType = spec[0];
    const extra = spec[1] ?? {};
    const config = [inputType, extra];
    if (!(name in inputs)) {
      if (required) {
        errors.push({
          type: 'required_input_missing',
          message: 'Required input is missing',
          details: name,
          extra_info: { input_name: name },
        });
      }
      continue;
    }
    let val = inputs[name];
    if (Array.isArray(val)) {
      if (val.length !== 2) {
        errors.push({
          type: 'bad_linked_input',
          message: 'Bad linked input, must be a length-2 list of [node_id, slot_index]',
          details: name,
          extra_info: { input_name: name, input_config: config, received_value: val },
        });
        continue;
      }
      const src = prompt[String(val[0])];
      if (!src) throw new ValidationException(pyRepr(String(val[0])), 'KeyError');
      const slot = val[1];
      const outs = info[src.class_type]?.output ?? [];
      if (typeof slot !== 'number' || !Number.isInteger(slot) || slot >= outs.length || slot < -outs.length) {
        throw new ValidationException('tuple index out of range', 'IndexError');
      }
      const receivedType = outs[slot < 0 ? outs.length + slot : slot];
      if (!typesCompatible(receivedType, inputType)) {
        errors.push({
          type: 'return_type_mismatch',
          message: 'Return type mismatch between linked nodes',
          details: `${name}, received_type(${pyStr(receivedType)}) mismatch input_type(${pyStr(inputType)})`,
          extra_info: {
            input_name: name,
            input_config: config,
            received_type: receivedType,
            linked_node: val,
          },
        });
        continue;
      }
      const [upstreamOk] = validateNode(prompt, String(val[0]), info, validated, visiting);
      if (!upstreamOk) valid = false;
      continue;
    }
    if (isObject(val) && '__value__' in val) {
      val = val.__value__;
      inputs[name] = val;
    }
    const typeName = typeof inputType === 'string' ? inputType : 'COMBO';
    const converted = convert(typeName, val);
    if (!converted.ok) {
      errors.push({
        type: 'invalid_input_type',
        message: `Failed to convert an input value to a ${typeName} value`,
        details: `${name}, ${pyStr(val)}, ${converted.error}`,
        extra_info: {
          input_name: name,
          input_config: config,
          received_value: val,
          exception_message: converted.error,
        },
      });
      continue;
    }
    val = converted.value;
    inputs[name] = val;
    const fmt = (n: unknown) => (typeName === 'FLOAT' && typeof n === 'number' ? pyFloat(n) : pyStr(n));
    const bound = (kind: 'min' | 'max') => ({
      type: kind === 'min' ? 'value_smaller_than_min' : 'value_bigger_than_max',
      message: `Value ${fmt(val)} ${kind === 'min' ? 'smaller than min' : 'bigger than max'} of ${fmt(extra[kind])}`,
      details: name,
      extra_info: { input_name: name, input_config: config, received_value: val },
    });
    if (typeof extra.min === 'number' && typeof val === 'number' && val < extra.min) {
      errors.push(bound('min'));
      continue;
    }
    if (typeof extra.max === 'number' && typeof val === 'number' && val > extra.max) {
      errors.push(bound('max'));
      continue;
    }
    const options = Array.isArray(inputType) ? inputType : inputType === 'COMBO' ? extra.options : undefined;
    if (Array.isArray(options) && !options.includes(val)) {
      const big = options.length > 20;
      errors.push({
        type: 'value_not_in_list',
        message: 'Value not in list',
        details: `${name}: '${pyStr(val)}' not in ${big ? `(list of length ${options.length})` : pyRepr(options)}`,
        extra_info: { input_name: name, input_config: big ? null : config, received_value: val },
      });
    }
  }
  visiting.delete(id);
  const verdict: Verdict = [errors.length === 0 && valid, errors];
  validated.set(id, verdict);
  return verdict;
}

/**
 * Validates an API-format prompt like ComfyUI's `validate_prompt`. On success
 * `prompt` is a copy with literal inputs converted (INT/FLOAT/STRING/BOOLEAN,
 * `{"__value__": x}` unwrapped) as ComfyUI stores it, `outputs` the output
 * nodes to execute (prompt order), and `nodeErrors` the failures of outputs
 * that were dropped. `targets` is `partial_execution_targets`.
 */
export function validatePrompt(
  prompt: unknown,
  objectInfo: ObjectInfoMap,
  targets?: readonly string[] | null,
): ValidationResult {
  if (!isObject(prompt)) {
    return fail({
      type: 'invalid_prompt',
      message: 'Invalid prompt',
      details: 'prompt must be an object',
      extra_info: {},
    });
  }
  const copy = structuredClone(prompt) as ApiPrompt;
  const outputs: string[] = [];
  for (const [id, node] of Object.entries(copy)) {
    const n = node as unknown;
    const title =
      isObject(n) && isObject(n._meta) && typeof n._meta.title === 'string' ? n._meta.title : null;
    if (!isObject(n) || !('class_type' in n)) {
      return fail({
        type: 'missing_node_type',
        message: `Node '${title ?? `ID #${id}`}' has no class_type. The workflow may be corrupted or a custom node is missing.`,
        details: `Node ID '#${id}'`,
        extra_info: { node_id: id, class_type: null, node_title: title },
      });
    }
    const cls = typeof n.class_type === 'string' ? objectInfo[n.class_type] : undefined;
    if (!cls) {
      const nodeTitle = title ?? n.class_type;
      return fail({
        type: 'missing_node_type',
        message: `Node '${pyStr(nodeTitle)}' not found. The custom node may not be installed.`,
        details: `Node ID '#${id}'`,
        extra_info: { node_id: id, class_type: n.class_type, node_title: nodeTitle },
      });
    }
    if (!isObject(n.inputs)) n.inputs = {};
    if (cls.output_node && (!targets || targets.includes(id))) outputs.push(id);
  }
  if (outputs.length === 0) {
    return fail({ type: 'prompt_no_outputs', message: 'Prompt has no outputs', details: '', extra_info: {} });
  }
  const good: string[] = [];
  const failed: [string, ComfyError[]][] = [];
  const nodeErrors: NodeErrors = {};
  const validated = new Map<string, Verdict>();
  for (const o of outputs) {
    let verdict: Verdict;
    try {
      verdict = validateNode(copy, o, objectInfo, validated, new Set());
    } catch (e) {
      const ex = e instanceof ValidationException ? e : new ValidationException(String(e), 'Exception');
      verdict = [
        false,
        [
          {
            type: 'exception_during_validation',
            message: 'Exception when validating node',
            details: ex.message,
            extra_info: { exception_type: ex.pyType, traceback: [] },
          },
        ],
      ];
      validated.set(o, verdict);
    }
    if (verdict[0]) {
      good.push(o);
      continue;
    }
    failed.push([o, verdict[1]]);
    // As ComfyUI does: every failing node seen so far gets this output appended,
    // and nodes failing only because of an upstream node are not listed.
    for (const [id, [ok, reasons]] of validated) {
      if (ok || reasons.length === 0) continue;
      nodeErrors[id] ??= { errors: reasons, dependent_outputs: [], class_type: copy[id]!.class_type };
      nodeErrors[id].dependent_outputs.push(o);
    }
  }
  if (good.length === 0) {
    const details = failed.flatMap(([, errs]) => errs.map((e) => `${e.message}: ${e.details}`)).join('\n');
    return fail(
      {
        type: 'prompt_outputs_failed_validation',
        message: 'Prompt outputs failed validation',
        details,
        extra_info: {},
      },
      nodeErrors,
    );
  }
  return { ok: true, prompt: copy, outputs: good, nodeErrors };
}
