import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { NodeInfo, ObjectInfoMap } from '../../src/domain/prompt-graph.js';
import { workflowToPrompt } from '../../src/domain/workflow-to-prompt.js';
import { buildObjectInfo } from '../../src/sim/node-catalog.js';

const info = buildObjectInfo(['example.png']);
const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/workflows/${name}`, import.meta.url), 'utf8'));

describe('a saved UI workflow converts to what Export (API) gives', () => {
  for (const name of [
    'plain',
    'control-after-generate',
    'reroute',
    'primitive',
    'muted',
    'bypassed',
    'converted-widget',
    'subgraph',
    'group-node',
  ]) {
    test(name, () => {
      const r = workflowToPrompt(fixture(`${name}.workflow.json`), info);
      assert.ok(r.ok, JSON.stringify(r));
      assert.deepEqual(r.prompt, fixture(`${name}.api.json`));
    });
  }

  test('an upload widget adds no input, whether or not the file kept its value', () => {
    const wf = fixture('plain.workflow.json');
    wf.nodes[0] = {
      id: 1,
      type: 'LoadImage',
      mode: 0,
      inputs: [],
      outputs: [{ name: 'IMAGE', type: 'IMAGE', links: [1] }],
      widgets_values: ['example.png', 'image'],
    };
    const a = workflowToPrompt(wf, info);
    assert.ok(a.ok);
    assert.deepEqual(a.prompt['1']!.inputs, { image: 'example.png' });
    wf.nodes[0].widgets_values = ['example.png'];
    const b = workflowToPrompt(wf, info);
    assert.ok(b.ok);
    assert.deepEqual(b.prompt['1']!.inputs, { image: 'example.png' });
  });

  test('a seed without its control value (a file written by a tool) still maps every widget', () => {
    const wf = fixture('control-after-generate.workflow.json');
    const ks = wf.nodes.find((n: { id: number }) => n.id === 3);
    ks.widgets_values = [156680208700286, 2, 7, 'euler', 'normal', 1];
    const r = workflowToPrompt(wf, info);
    assert.ok(r.ok);
    assert.deepEqual(r.prompt, fixture('control-after-generate.api.json'));
  });

  test('a combo with control_after_generate skips its control value and filter text', () => {
    const ks = info.KSampler!;
    const withControl: ObjectInfoMap = {
      ...info,
      KSampler: {
        ...ks,
        input: {
          ...ks.input,
          required: {
            ...ks.input.required,
            sampler_name: [ks.input.required!.sampler_name![0], { control_after_generate: true }],
          },
        },
      },
    };
    const wf = fixture('control-after-generate.workflow.json');
    const node = wf.nodes.find((n: { id: number }) => n.id === 3);
    node.widgets_values = [156680208700286, 'randomize', 2, 7, 'euler', 'increment', '', 'normal', 1];
    const r = workflowToPrompt(wf, withControl);
    assert.ok(r.ok);
    assert.deepEqual(r.prompt, fixture('control-after-generate.api.json'));
  });

  test('a muted subgraph instance leaves out all it holds, and the inputs it fed', () => {
    const wf = fixture('subgraph.workflow.json');
    wf.nodes.find((n: { id: number }) => n.id === 10).mode = 2;
    const r = workflowToPrompt(wf, info);
    assert.ok(r.ok);
    const expected = fixture('subgraph.api.json');
    delete expected['10:1'];
    delete expected['10:2'];
    delete expected['3'].inputs.positive;
    delete expected['3'].inputs.negative;
    assert.deepEqual(r.prompt, expected);
  });

  test('nested subgraphs chain their instance ids', () => {
    const io = (id: number, link: number | null) => ({ id, name: 'image', type: 'IMAGE', link });
    const inner = (id: string, nodes: unknown[]) => ({
      id,
      nodes,
      links: [
        { id: 1, origin_id: -10, origin_slot: 0, target_id: 5, target_slot: 0, type: 'IMAGE' },
        { id: 2, origin_id: 5, origin_slot: 0, target_id: -20, target_slot: 0, type: 'IMAGE' },
      ],
    });
    const out = { name: 'IMAGE', type: 'IMAGE', links: [2] };
    const wf = {
      last_node_id: 7,
      nodes: [
        { id: 1, type: 'EmptyImage', mode: 0, outputs: [out], widgets_values: [8, 8, 1, 0] },
        { id: 7, type: 'outer-def', mode: 0, inputs: [io(0, 1)], outputs: [out] },
        {
          id: 3,
          type: 'SaveImage',
          mode: 0,
          inputs: [{ ...io(0, 2), name: 'images' }],
          widgets_values: ['nested'],
        },
      ],
      links: [
        [1, 1, 0, 7, 0, 'IMAGE'],
        [2, 7, 0, 3, 0, 'IMAGE'],
      ],
      definitions: {
        subgraphs: [
          inner('outer-def', [{ id: 5, type: 'inner-def', mode: 0, inputs: [io(0, 1)], outputs: [out] }]),
          inner('inner-def', [{ id: 5, type: 'ImageInvert', mode: 0, inputs: [io(0, 1)], outputs: [out] }]),
        ],
      },
    };
    const r = workflowToPrompt(wf, info);
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(Object.keys(r.prompt).sort(), ['1', '3', '7:5:5']);
    assert.deepEqual(r.prompt['7:5:5']!.inputs, { image: ['1', 0] });
    assert.deepEqual(r.prompt['3']!.inputs, { filename_prefix: 'nested', images: ['7:5:5', 0] });
  });

  test('a converted widget linked from a real node becomes a link; list values are wrapped', () => {
    const extra: ObjectInfoMap = {
      ...info,
      IntSource: {
        ...info.EmptyImage!,
        name: 'IntSource',
        input: { required: {} },
        output: ['INT'],
      } as NodeInfo,
    };
    const wf = {
      last_node_id: 2,
      nodes: [
        { id: 1, type: 'IntSource', mode: 0, outputs: [{ name: 'INT', type: 'INT', links: [1] }] },
        {
          id: 2,
          type: 'EmptyImage',
          mode: 0,
          inputs: [{ name: 'width', type: 'INT', link: 1, widget: { name: 'width' } }],
          widgets_values: [512, 64, 1, [1, 2]],
        },
      ],
      links: [[1, 1, 0, 2, 0, 'INT']],
    };
    const r = workflowToPrompt(wf, extra);
    assert.ok(r.ok);
    assert.deepEqual(r.prompt['2']!.inputs, {
      width: ['1', 0],
      height: 64,
      batch_size: 1,
      color: { __value__: [1, 2] },
    });
  });
});

describe('a workflow that cannot be converted is refused, naming the node and why', () => {
  const base = () => fixture('plain.workflow.json');
  const cases: [string, (wf: any) => unknown, string, string | null][] = [
    ['invalid_workflow', (wf) => ({ ...wf, nodes: [{ id: 1 }] }), 'invalid_workflow', null],
    [
      'unknown_node_type',
      (wf) => {
        wf.nodes[1].type = 'NoSuchNode';
        return wf;
      },
      'unknown_node_type',
      '2',
    ],
    [
      'missing_definition (group node)',
      (wf) => {
        wf.nodes[1].type = 'workflow>Gone';
        return wf;
      },
      'missing_definition',
      '2',
    ],
    [
      'broken_link',
      (wf) => {
        wf.links = wf.links.filter((l: number[]) => l[0] !== 2);
        return wf;
      },
      'broken_link',
      '3',
    ],
    [
      'link_cycle (a subgraph holding itself)',
      (wf) => {
        wf.nodes[1].type = 'self';
        wf.definitions = {
          subgraphs: [{ id: 'self', nodes: [{ id: 1, type: 'self', mode: 0 }], links: [] }],
        };
        return wf;
      },
      'link_cycle',
      '2',
    ],
    [
      'link_cycle',
      (wf) => {
        wf.nodes[1].mode = 4;
        wf.nodes[1].inputs[0].link = 9;
        wf.links.push([9, 2, 0, 2, 0, 'IMAGE']);
        return wf;
      },
      'link_cycle',
      '2',
    ],
  ];
  for (const [title, mutate, reason, node] of cases) {
    test(title, () => {
      const r = workflowToPrompt(mutate(base()), info);
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.refusal.reason, reason);
      assert.equal(r.refusal.node_id, node);
      assert.equal(typeof r.refusal.message, 'string');
    });
  }
});
