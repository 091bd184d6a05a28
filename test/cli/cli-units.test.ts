import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { joinNegativeValues, plainParseError } from '../../src/cli/args.js';
import { duration, sinceParam } from '../../src/cli/format.js';
import { JobBoard } from '../../src/cli/job-board.js';
import { LiveArea, progressText } from '../../src/cli/progress-bar.js';
import { classify, randomizeSeeds, SubmitInputError, submitBody } from '../../src/cli/submit-input.js';
import { renderTable } from '../../src/cli/table.js';
import { t2iPrompt } from '../helpers/harness.js';

describe('flags', () => {
  test('a negative number after a flag is its value', () => {
    assert.deepEqual(joinNegativeValues(['--priority', '-5', 'a.json']), ['--priority=-5', 'a.json']);
    assert.deepEqual(joinNegativeValues(['--simulate', '-1']), ['--simulate=-1']);
    assert.deepEqual(joinNegativeValues(['--front', '--wait']), ['--front', '--wait']);
    assert.deepEqual(joinNegativeValues(['--', '--x', '-1']), ['--', '--x', '-1']);
  });

  test("parseArgs's errors read as one plain line", () => {
    assert.equal(
      plainParseError("Unknown option '--nope'. To specify a positional..."),
      'unknown flag --nope',
    );
    assert.equal(plainParseError("Option '--name <value>' argument missing"), '--name needs a value');
  });

  test('--since: a time ago or what the API takes', () => {
    const now = Date.UTC(2026, 0, 31, 12);
    assert.equal(sinceParam('-1h', now), String(now - 3_600_000));
    assert.equal(sinceParam('-2d', now), String(now - 2 * 86_400_000));
    assert.equal(sinceParam('30m', now), String(now - 1_800_000));
    assert.equal(sinceParam('2026-01-31', now), '2026-01-31');
    assert.equal(sinceParam('2026-01-31T08:00:00Z', now), '2026-01-31T08:00:00Z');
    assert.equal(sinceParam('yesterday', now), null);
  });
});

describe('what submit sends', () => {
  test('an API graph is wrapped, a body is extended, a UI workflow goes as it is', () => {
    const graph = t2iPrompt(2, 5);
    assert.equal(classify(graph), 'api-graph');
    assert.deepEqual(submitBody(graph, 'api-graph', { name: 'n', priority: 3, front: true }), {
      prompt: graph,
      name: 'n',
      priority: 3,
      front: true,
    });
    const body = { prompt: graph, extra_data: { a: 1 } };
    assert.equal(classify(body), 'body');
    assert.deepEqual(submitBody(body, 'body', { priority: -2 }), { ...body, priority: -2 });
    const ui = {
      last_node_id: 9,
      nodes: [{ id: 1, type: 'KSampler', widgets_values: [5] }],
      links: [],
      version: 0.4,
    };
    assert.equal(classify(ui), 'ui-workflow');
    assert.deepEqual(submitBody(ui, 'ui-workflow', { name: 'x' }), ui);
    assert.throws(() => submitBody(ui, 'ui-workflow', { randomSeed: true }), SubmitInputError);
    assert.throws(() => classify({ hello: 'world' }), SubmitInputError);
    assert.throws(() => classify([1, 2]), SubmitInputError);
  });

  test('--seed random sets every literal seed and noise_seed, never a wired one, and leaves the file alone', () => {
    const graph = {
      ...t2iPrompt(2, 5),
      '10': { class_type: 'KSamplerAdvanced', inputs: { noise_seed: 9, seed: ['11', 0] } },
    };
    const body = submitBody(graph, 'api-graph', { randomSeed: true });
    const p = body.prompt as Record<string, { inputs: Record<string, unknown> }>;
    assert.equal(typeof p['3']?.inputs.seed, 'number');
    assert.deepEqual(p['10']?.inputs.seed, ['11', 0]);
    assert.equal((graph as Record<string, { inputs: Record<string, unknown> }>)['3']?.inputs.seed, 5);
    let n = 0;
    assert.equal(
      randomizeSeeds(structuredClone(graph), () => ++n),
      2,
    );
    assert.throws(
      () => submitBody({ '1': { class_type: 'SaveImage', inputs: {} } }, 'api-graph', { randomSeed: true }),
      /no literal seed/,
    );
  });
});

describe('terminal output', () => {
  test('tables align their columns', () => {
    const t = renderTable(
      [
        { a: 'x', b: 10 },
        { a: 'longer', b: 2 },
      ],
      [
        { header: 'name', cell: (r) => r.a },
        { header: 'n', cell: (r) => String(r.b), right: true },
      ],
    );
    assert.equal(t, 'NAME     N\nx       10\nlonger   2\n');
  });

  test('a progress line: percent, node, step, ETA counting down between pushes', () => {
    const job = { prompt_id: 'abcdef12-0000-4000-8000-000000000000', status: 'in_progress', worker: 'w1' };
    const progress = {
      status: 'running',
      percent: 45.8,
      currentNode: { id: '3', classType: 'KSampler', title: 'KSampler', step: { value: 14, max: 20 } },
      etaMs: 3400,
      elapsedMs: 8200,
      at: 1000,
    };
    assert.equal(progressText(job, progress, 2000), ' 46%  KSampler 14/20  ETA 2.4s  on w1');
    assert.match(progressText(job, progress, 2000, { withBar: true }), /^\[#########\.+\] +46%/);
    assert.equal(
      progressText(
        {
          ...job,
          status: 'failed',
          error: { type: 'execution_error', message: 'boom', node_type: 'KSampler', node_id: '3' },
        },
        null,
        0,
      ),
      'failed: execution_error in KSampler (node 3): boom',
    );
    assert.equal(duration(185_000), '3m 05s');
  });

  test('off a terminal a line is printed only when its text changes; on one the block is redrawn in place', () => {
    let out = '';
    const file = new LiveArea({ write: (s: string) => (out += s) });
    file.render(new Map([['a', 'one']]));
    file.render(new Map([['a', 'one']]));
    file.render(new Map([['a', 'two']]));
    assert.equal(out, 'one\ntwo\n');
    out = '';
    const tty = new LiveArea({ write: (s: string) => (out += s), isTTY: true, columns: 80 });
    tty.render(
      new Map([
        ['a', 'one'],
        ['b', 'x'],
      ]),
    );
    tty.render(
      new Map([
        ['a', 'two'],
        ['b', 'x'],
      ]),
    );
    assert.equal(out, '\r\x1b[2Kone\n\r\x1b[2Kx\n\x1b[2A\r\x1b[2Ktwo\n\r\x1b[2Kx\n');
  });

  test('the board keeps an ended job ended when a late answer says otherwise', () => {
    const board = new JobBoard();
    const job = { prompt_id: 'j1', status: 'pending', display_name: 'j' };
    board.apply({ type: 'job.queued', at: 1, job: job as never });
    board.apply({ type: 'job.started', at: 2, job: { ...job, status: 'in_progress' } as never });
    board.apply({ type: 'job.finished', at: 3, job: { ...job, status: 'completed' } as never });
    board.set(job as never, 4);
    assert.equal(board.entries.get('j1')?.job.status, 'completed');
  });
});
