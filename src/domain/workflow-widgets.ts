/**
 * A node's `widgets_values` (a list in widget order) turned into named API
 * inputs, with the node's object_info giving the widgets and their order as
 * ComfyUI's frontend builds them: one widget per INT, FLOAT, STRING, BOOLEAN
 * or combo input (required, then optional, in `input_order`), plus widgets
 * that hold a value in the saved file but never reach the API: the
 * `control_after_generate` choice after a seed, the upload button after an
 * `image_upload` combo.
 */
import type { InputSpec, NodeInfo } from './prompt-graph.js';
import { isObject } from './workflow-graph.js';

const WIDGET_TYPES = new Set(['INT', 'FLOAT', 'STRING', 'BOOLEAN', 'COMBO']);
const CONTROL_VALUES = new Set(['fixed', 'increment', 'decrement', 'randomize', 'increment-wrap']);
const UPLOAD_FLAGS = ['image_upload', 'video_upload', 'audio_upload', 'animated_image_upload'];

export interface WidgetSlot {
  name: string;
  /** a control_after_generate value follows in widgets_values */
  control: boolean;
  /** a combo: its control value may be followed by the control's filter text */
  combo: boolean;
  /** an upload button follows, whose value (if saved) is not an input */
  upload: boolean;
}

function isWidgetSpec(spec: InputSpec): boolean {
  const [type, opts] = spec;
  if (isObject(opts) && opts.forceInput === true) return false;
  return Array.isArray(type) || (typeof type === 'string' && WIDGET_TYPES.has(type));
}

function ordered(
  group: Record<string, InputSpec> | undefined,
  order: string[] | undefined,
): [string, InputSpec][] {
  if (!group) return [];
  const names = order?.filter((n) => n in group) ?? Object.keys(group);
  return names.map((n) => [n, group[n]!]);
}

/** The widgets ComfyUI's frontend gives a node of this class, in order. */
export function widgetSlots(info: NodeInfo): WidgetSlot[] {
  const specs = [
    ...ordered(info.input.required, info.input_order?.required),
    ...ordered(info.input.optional, info.input_order?.optional),
  ];
  return specs
    .filter(([, spec]) => Array.isArray(spec) && isWidgetSpec(spec))
    .map(([name, [type, opts]]) => {
      const o = isObject(opts) ? opts : {};
      // Legacy convention kept by the frontend: an INT named seed/noise_seed gets the control widget
      // unless its spec says otherwise.
      const control =
        o.control_after_generate !== undefined
          ? Boolean(o.control_after_generate)
          : type === 'INT' && (name === 'seed' || name === 'noise_seed');
      const combo = Array.isArray(type) || type === 'COMBO';
      return { name, control, combo, upload: UPLOAD_FLAGS.some((f) => o[f] === true) };
    });
}

/** Array values are wrapped, as the frontend does, so that they are not read as links. */
export const wrapValue = (v: unknown): unknown => (Array.isArray(v) ? { __value__: v } : v);

/** Widget values by input name (values missing from the file are left out). */
export function widgetInputs(
  slots: readonly WidgetSlot[],
  values: unknown[] | Record<string, unknown>,
): Record<string, unknown> {
  const inputs: Record<string, unknown> = {};
  if (!Array.isArray(values)) {
    for (const s of slots) if (s.name in values) inputs[s.name] = wrapValue(values[s.name]);
    return inputs;
  }
  let i = 0;
  for (const [k, s] of slots.entries()) {
    if (i >= values.length) break;
    inputs[s.name] = wrapValue(values[i++]);
    const later = slots.length - k - 1;
    // A file may lack these extra values (written by a tool, or by an older frontend): skip one only
    // when it is there, i.e. when more values remain than widgets.
    if (s.control && values.length - i > later && CONTROL_VALUES.has(values[i] as string)) {
      i++;
      if (s.combo && values.length - i > later && typeof values[i] === 'string') i++;
    }
    if (s.upload && values.length - i > later) i++;
  }
  return inputs;
}
