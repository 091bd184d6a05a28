import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProgressStateData, parseComfyMessage, progressStateProblem } from '../../src/comfy/messages.js';

const entry = {
  value: 3,
  max: 20,
  state: 'running',
  node_id: '5',
  prompt_id: 'p',
  display_node_id: '5',
  parent_node_id: null,
  real_node_id: '5',
};

/** Every field of an entry replaced or dropped, and the payload's own fields broken. */
function variants(): unknown[] {
  const out: unknown[] = [
    { prompt_id: 'p', nodes: {} },
    { prompt_id: 'p', nodes: { '5': entry } },
  ];
  const odd = [undefined, null, 7, 'x', true, [], {}, Number.NaN];
  for (const field of Object.keys(entry))
    for (const v of odd) {
      const e: Record<string, unknown> = { ...entry, [field]: v };
      if (v === undefined) delete e[field];
      out.push({ prompt_id: 'p', nodes: { '5': { ...entry }, '6': e } });
    }
  for (const v of odd) {
    out.push({ prompt_id: v, nodes: { '5': entry } });
    out.push({ prompt_id: 'p', nodes: v });
    out.push({ prompt_id: 'p', nodes: { '5': v } });
  }
  out.push(null, 'x', [], { nodes: {} }, { prompt_id: 'p', nodes: { '5': { ...entry, extra: 1 } } });
  return out;
}

test('the in-place check of progress_state accepts and refuses what the schema does', () => {
  for (const data of variants()) {
    const schema = ProgressStateData.safeParse(data).success;
    const fast = progressStateProblem(data) === null;
    assert.equal(fast, schema, JSON.stringify(data));
    // As it comes from a worker: the wire form (NaN is null there) through the message parser.
    const wire = JSON.parse(JSON.stringify({ d: data })).d;
    const parsed = parseComfyMessage(JSON.stringify({ type: 'progress_state', data: wire }));
    assert.equal(parsed.ok, ProgressStateData.safeParse(wire).success, JSON.stringify(wire));
  }
});
