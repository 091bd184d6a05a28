/**
 * `comfy-queue batch` and `comfy-queue batches`, run as built, against a
 * running server with a simulated worker.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseCsv, parseSweep, parseTraits } from '../../src/cli/batch-input.js';
import { follow, runCli, startCli } from '../helpers/cli-run.js';
import { http, startTestServer, t2iPrompt, tempDir, until } from '../helpers/harness.js';

const files = tempDir('cq-cli-batch-');
let server: Awaited<ReturnType<typeof startTestServer>>;
let env: NodeJS.ProcessEnv;

function file(name: string, text: string): string {
  const p = join(files.path, name);
  writeFileSync(p, text);
  return p;
}

before(async () => {
  server = await startTestServer({ comfyUrls: [], simulate: 2, simStepMs: 2 });
  env = { COMFY_QUEUE_SERVER: server.url };
});

after(async () => {
  await server.close();
  files.remove();
});

describe('batch input', () => {
  it('reads CSV traits with quotes, numbers and CRLF', () => {
    assert.deepEqual(parseCsv('a,b\r\n"x, y",2\r\n"say ""hi""",3\n'), [
      ['a', 'b'],
      ['x, y', '2'],
      ['say "hi"', '3'],
    ]);
    assert.deepEqual(parseTraits('hat,size\nred,2\nblue,3\n', 't.csv'), [
      { hat: 'red', size: 2 },
      { hat: 'blue', size: 3 },
    ]);
    assert.deepEqual(parseTraits('{"2": {"hat": "b"}, "1": {"hat": "a"}, "10": {"hat": "c"}}', 't.json'), [
      { hat: 'a' },
      { hat: 'b' },
      { hat: 'c' },
    ]);
    assert.deepEqual(parseSweep('3.cfg=5,7.5,x'), ['3.cfg', [5, 7.5, 'x']]);
  });
});

describe('comfy-queue batch', () => {
  it('queues a batch with traits, binds and a sweep and follows it to the end', async () => {
    const wf = file('faces.json', JSON.stringify(t2iPrompt(1, 0)));
    const traits = file('traits.csv', 'hat,mood\nred,calm\nblue,wild\ngreen,calm\n');
    const r = await runCli(
      ['batch', wf, '--seed-start', '50', '--traits', traits, '--bind', 'hat=6.text', '--sweep', '3.cfg=5,8'],
      env,
    );
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /batch \d+ faces: 6 items queued/);
    assert.match(r.stdout, /6\/6/);
    const list = await runCli(['batches'], env);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /faces\s+finished\s+6\/6\s+0/);
    const items = await http('GET', `${server.url}/api/pqueue/tracker/jobs?batch=faces&limit=10`);
    assert.deepEqual(
      items.body.jobs.map((j: any) => [j.index, j.seed, j.traits.hat, j.sweep['3.inputs.cfg']]),
      [
        [1, 50, 'red', 5],
        [2, 50, 'red', 8],
        [3, 51, 'blue', 5],
        [4, 51, 'blue', 8],
        [5, 52, 'green', 5],
        [6, 52, 'green', 8],
      ],
    );
  });

  it('leaves on Ctrl-C while the batch carries on', async () => {
    const wf = file('slow.json', JSON.stringify(t2iPrompt(50, 0)));
    const proc = startCli(['batch', wf, '--count', '200', '--seed', 'random', '--name', 'slow'], env);
    const f = follow(proc);
    await f.waitFor(/slow {2}\[/, 'the progress line');
    proc.kill('SIGINT');
    const r = await f.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /carries on/);
    const b = await until(async () => {
      const l = await http('GET', `${server.url}/api/pqueue/batches`);
      return l.body.batches.find((x: any) => x.name === 'slow');
    }, 'the batch');
    assert.notEqual(b.state, 'finished');
    await http('POST', `${server.url}/api/pqueue/batches/${b.id}/cancel`);
  });

  it('refuses bad flags with one line and exit 2', async () => {
    const wf = file('x.json', JSON.stringify(t2iPrompt(1, 0)));
    const r = await runCli(['batch', wf, '--sweep', 'nonsense'], env);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--sweep nonsense: give node.input=a,b,c/);
    const refused = await runCli(['batch', wf, '--sweep', '99.cfg=1,2'], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /no node 99/);
  });
});
