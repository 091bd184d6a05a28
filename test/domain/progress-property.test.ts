/**
 * Properties of the progress tracker over random message sequences.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { PromptGraph } from '../../src/domain/job.js';
import { createProgress, feed, isTerminal } from '../../src/domain/progress.js';
import type { NodeProgressEntry, ProgressInput } from '../../src/domain/progress-messages.js';
import { snapshot } from '../../src/domain/progress-snapshot.js';

const P = 'p';
const CLASSES = ['KSampler', 'Reroute', 'PrimitiveInt', 'VAEDecode', 'SaveImage', 'CheckpointLoaderSimple'];

const graphArb = fc.array(fc.constantFrom(...CLASSES), { minLength: 1, maxLength: 6 }).map((classes) => {
  const graph: PromptGraph = {};
  classes.forEach((class_type, i) => {
    graph[String(i + 1)] = { class_type, inputs: i > 0 ? { in: [String(i), 0] } : {} };
  });
  return graph;
});

/** Mostly this prompt's ids, some unknown and expanded ones. */
const nodeArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 1, max: 6 }).map(String) },
  { weight: 1, arbitrary: fc.constantFrom('99', '2.0.0.1') },
);
const pidArb = fc.oneof(
  { weight: 9, arbitrary: fc.constant(P) },
  { weight: 1, arbitrary: fc.constant('other') },
);
const barArb = fc
  .integer({ min: 1, max: 40 })
  .chain((max) => fc.record({ max: fc.constant(max), value: fc.nat(max) }));

const entryArb = fc.record({ node: nodeArb, bar: barArb, state: fc.constantFrom('running', 'finished') });

const messageArb: fc.Arbitrary<ProgressInput> = fc.oneof(
  pidArb.map((prompt_id) => ({ type: 'execution_start', data: { prompt_id } })),
  fc.record({ prompt_id: pidArb, nodes: fc.array(nodeArb, { maxLength: 4 }) }).map((data) => ({
    type: 'execution_cached',
    data,
  })),
  fc.record({ prompt_id: pidArb, node: nodeArb }).map(({ prompt_id, node }) => ({
    type: 'executing',
    data: { node, display_node: node.split('.')[0], prompt_id },
  })),
  fc.record({ prompt_id: pidArb, node: fc.option(nodeArb, { nil: undefined }), bar: barArb }).map((r) => ({
    type: 'progress',
    data: { prompt_id: r.prompt_id, node: r.node, value: r.bar.value, max: r.bar.max },
  })),
  fc
    .record({ prompt_id: pidArb, entries: fc.array(entryArb, { maxLength: 4 }) })
    .map(({ prompt_id, entries }) => {
      const nodes: Record<string, NodeProgressEntry> = {};
      for (const e of entries) nodes[e.node] = { node_id: e.node, state: e.state, ...e.bar };
      return { type: 'progress_state', data: { prompt_id, nodes } };
    }),
  fc.record({ prompt_id: pidArb, node: nodeArb }).map(({ prompt_id, node }) => ({
    type: 'executed',
    data: {
      prompt_id,
      node,
      output: { images: [{ filename: `${node}.png`, subfolder: '', type: 'output' }] },
    },
  })),
  fc.constant({ type: 'status', data: { status: { exec_info: { queue_remaining: 1 } } } }),
);

const terminalArb: fc.Arbitrary<ProgressInput | null> = fc.constantFrom(
  null,
  { type: 'execution_success', data: { prompt_id: P } },
  { type: 'execution_error', data: { prompt_id: P, node_id: '1', exception_message: 'boom' } },
  { type: 'execution_interrupted', data: { prompt_id: P, node_id: '1' } },
  { type: 'executing', data: { node: null, prompt_id: P } },
);

const runArb = fc.record({
  graph: graphArb,
  messages: fc.array(fc.tuple(messageArb, fc.nat(2000)), { maxLength: 60 }),
  terminal: terminalArb,
});

test('percent stays within [0, 100], never decreases, and is 100 after success', () => {
  fc.assert(
    fc.property(runArb, ({ graph, messages, terminal }) => {
      let state = createProgress({ promptId: P, prompt: graph, startedAt: 0 });
      let now = 0;
      const all: [ProgressInput, number][] = terminal ? [...messages, [terminal, 10]] : messages;
      for (const [message, dt] of all) {
        now += dt;
        const next = feed(state, message, now);
        assert.ok(next.percent >= state.percent, 'percent decreased');
        assert.ok(next.percent >= 0 && next.percent <= 100, `percent ${next.percent}`);
        assert.ok(next.revision >= state.revision);
        if (isTerminal(state)) assert.equal(next, state, 'a finished run changed');
        const view = snapshot(next, now);
        assert.ok(view.elapsedMs >= 0);
        assert.ok(view.etaMs === null || view.etaMs >= 0);
        assert.ok(view.itPerSec === null || (view.itPerSec > 0 && Number.isFinite(view.itPerSec)));
        assert.ok(view.nodes.done <= view.nodes.total);
        state = next;
      }
      const end = snapshot(state, now);
      if (end.status === 'completed') assert.equal(end.percent, 100);
    }),
    { numRuns: 500 },
  );
});
