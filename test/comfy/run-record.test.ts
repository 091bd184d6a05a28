import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ComfyMessage } from '../../src/comfy/messages.js';
import { RunRecord } from '../../src/comfy/run-record.js';

const P = 'p1';
const image = { images: [{ filename: 'a_00001_.png', subfolder: '', type: 'output' }] };

function record(...messages: ComfyMessage[]): RunRecord {
  const r = new RunRecord();
  for (const m of messages) r.observe(m);
  return r;
}
const start: ComfyMessage = { type: 'execution_start', data: { prompt_id: P, timestamp: 100 } };
const cached = (...nodes: string[]): ComfyMessage => ({
  type: 'execution_cached',
  data: { nodes, prompt_id: P },
});
const executed = (node: string, output: Record<string, unknown> | null, merge?: boolean): ComfyMessage => ({
  type: 'executed',
  data: { node, display_node: node, output, prompt_id: P, ...(merge === undefined ? {} : { merge }) },
});
const success: ComfyMessage = { type: 'execution_success', data: { prompt_id: P, timestamp: 250 } };
/** node 9 is a SaveImage (output), 4 a loader (not an output), 7 unknown */
const kinds = (id: string) => (id === '9' ? true : id === '4' ? false : undefined);

describe('RunRecord: a run told by its messages', () => {
  test('a run that ended well: its executed outputs, its start and end', () => {
    const out = record(start, cached(), executed('9', image), executed('10', null), success).outcome(kinds);
    assert.deepEqual(out, {
      status: 'completed',
      outputs: { '9': image },
      error: null,
      executionStart: 100,
      executionEnd: 250,
    });
  });

  test('cached nodes: an output node re-sent with executed, a loader silent, tell it', () => {
    const out = record(start, cached('4', '9'), executed('9', image), success).outcome(kinds);
    assert.deepEqual(out?.outputs, { '9': image });
  });

  test('a cached output node that sent nothing (older ComfyUI), or a cached node of unknown kind: read the history', () => {
    assert.equal(record(start, cached('9'), success).outcome(kinds), null);
    assert.equal(record(start, cached('7'), success).outcome(kinds), null);
    assert.equal(
      record(start, cached('4'), success).outcome(() => undefined),
      null,
    );
  });

  test('no success seen, an error (even one the run went on after), an interruption: read the history', () => {
    assert.equal(record(start, cached(), executed('9', image)).outcome(kinds), null);
    const blocked: ComfyMessage = {
      type: 'execution_error',
      data: { prompt_id: P, node_id: '9', exception_type: 'ExecutionBlocked' },
    };
    assert.equal(record(start, cached(), blocked, executed('9', image), success).outcome(kinds), null);
    const interrupted: ComfyMessage = { type: 'execution_interrupted', data: { prompt_id: P, node_id: '9' } };
    assert.equal(record(start, interrupted, success).outcome(kinds), null);
  });

  test('a node told twice, or with merge: read the history', () => {
    assert.equal(
      record(start, cached(), executed('9', image), executed('9', image), success).outcome(kinds),
      null,
    );
    assert.equal(record(start, cached(), executed('9', image, true), success).outcome(kinds), null);
  });
});
