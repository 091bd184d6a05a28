import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { follow, runCli, startCli } from '../helpers/cli-run.js';
import { http, ROOT, startTestServer, t2iPrompt, tempDir } from '../helpers/harness.js';

const files = tempDir('cq-cli-files-');
let server: Awaited<ReturnType<typeof startTestServer>>;
let env: NodeJS.ProcessEnv;

function file(name: string, json: unknown): string {
  const p = join(files.path, name);
  writeFileSync(p, JSON.stringify(json));
  return p;
}

/** A job that fails at step 2 of its sampler, with ComfyUI's execution_error. */
function failingPrompt(): Record<string, unknown> {
  return {
    '1': {
      class_type: 'FakeSampler',
      inputs: { seed: 1, steps: 4, width: 64, height: 64, step_seconds: 0.01, fail_at_step: 2 },
    },
    '2': { class_type: 'SaveImage', inputs: { images: ['1', 0], filename_prefix: 'fail' } },
  };
}

/** A port nothing listens on: one the system just gave out and took back. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

before(async () => {
  server = await startTestServer({ comfyUrls: [], simulate: 1, simStepMs: 5 });
  env = { COMFY_QUEUE_SERVER: server.url };
});

after(async () => {
  await server.close();
  files.remove();
});

describe('help and version', () => {
  test('--version prints the version of package.json', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    const r = await runCli(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), `comfy-queue ${pkg.version}`);
  });

  test('--help lists every command; each command answers --help and help CMD', async () => {
    const all = await runCli(['--help']);
    assert.equal(all.code, 0);
    for (const cmd of [
      'serve',
      'sim',
      'submit',
      'ls',
      'show',
      'watch',
      'history',
      'pause',
      'resume',
      'cancel',
      'rm',
      'requeue',
      'workers',
    ]) {
      assert.match(all.stdout, new RegExp(`^  ${cmd} `, 'm'), cmd);
      const h = await runCli([cmd, '--help']);
      assert.equal(h.code, 0, `${cmd} --help: ${h.stderr}`);
      assert.match(h.stdout, new RegExp(`comfy-queue ${cmd}`), cmd);
      const viaHelp = await runCli(['help', cmd]);
      assert.equal(viaHelp.stdout, h.stdout);
    }
  });
});

describe('mistakes on the command line: one line, exit 2', () => {
  const cases: [string[], RegExp][] = [
    [['ls', '--nope'], /unknown flag --nope/],
    [['serve', '--simulate', '-1'], /--simulate must be an integer from 0 to 64 \(got "-1"\)/],
    [['serve', '--nope'], /unknown flag --nope/],
    [['sim', '--port', 'x'], /--port must be an integer/],
    [['submit'], /give one or more JSON files/],
    [['submit', '/nonexistent/job.json'], /\/nonexistent\/job\.json: no such file/],
    [['submit', 'package.json'], /is neither an API-format graph/],
    [['submit', 'x.json', '--seed', '42'], /--seed takes "random"/],
    [['history', '--since', 'yesterday'], /--since yesterday/],
    [['history', '--status', 'done'], /--status done/],
    [['ls', '--limit', '-3'], /--limit must be an integer/],
    [['show', 'not-an-id!'], /is not a job id/],
    [['ls', '--server', 'ftp://x'], /--server/],
    [['frobnicate'], /unknown command "frobnicate"/],
  ];
  for (const [args, message] of cases) {
    test(args.join(' '), async () => {
      const r = await runCli(args, env);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    });
  }
});

describe('server errors and an unreachable server: exit 1', () => {
  test('an unknown job: the API message and code', async () => {
    const r = await runCli(['show', '00000000-0000-4000-8000-000000000000'], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /JOB_NOT_FOUND, HTTP 404/);
  });

  test('no server: says where it looked and what to start', async () => {
    const port = await closedPort();
    const r = await runCli(['ls', '--server', `http://127.0.0.1:${port}`]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `comfy-queue: cannot reach comfy-queue at http://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}; is \`comfy-queue serve\` running?\n`,
    );
  });

  test('a prefix that names no job', async () => {
    const r = await runCli(['cancel', 'fffffffffff'], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no job id starts with "fffffffffff"/);
  });
});

describe('submit', () => {
  test('--wait follows the copies to completion; --seed random gives each its own seed', async () => {
    const f = file('cat_api.json', t2iPrompt(3, 7));
    const r = await runCli(
      ['submit', f, '--count', '3', '--seed', 'random', '--name', 'cat study', '--wait'],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    const ids = [...r.stdout.matchAll(/^queued ([0-9a-f]{8}) {2}cat study/gm)].map((m) => m[1]);
    assert.equal(ids.length, 3);
    assert.match(r.stdout, /^3 completed$/m);
    for (const id of ids) assert.match(r.stdout, new RegExp(`^${id}  cat study  completed in`, 'm'));
    const h = await runCli(['history', '--json', '--q', 'cat', '--limit', '3'], env);
    const jobs = JSON.parse(h.stdout).jobs;
    assert.deepEqual(jobs.map((j: any) => j.prompt_id.slice(0, 8)).sort(), [...ids].sort());
    const seeds = new Set<number>();
    for (const j of jobs) {
      const full = (await http('GET', `${server.url}/api/pqueue/jobs/${j.prompt_id}`)).body;
      seeds.add(full.prompt['3'].inputs.seed);
    }
    assert.equal(seeds.size, 3);
    assert.ok(!seeds.has(7));
  });

  test('--wait on a failing job: exit 1 with its error', async () => {
    const f = file('fails.json', { prompt: failingPrompt(), name: 'doomed' });
    const r = await runCli(['submit', f, '--wait'], env);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /doomed {2}failed: execution_error in FakeSampler \(node 1\): FakeSampler: deliberate failure at step 2/,
    );
    assert.match(r.stderr, /failed: execution_error/);
  });

  test('--json prints the created jobs; --front puts them first, in the order given', async () => {
    await runCli(['pause'], env);
    try {
      const a = file('a.json', { prompt: t2iPrompt(1, 1), name: 'a' });
      const b = file('b.json', { prompt: t2iPrompt(1, 2), name: 'b' });
      const first = await runCli(['submit', a, '--json'], env);
      assert.equal(first.code, 0, first.stderr);
      const [ja] = JSON.parse(first.stdout);
      assert.equal(ja.status, 'pending');
      const second = await runCli(['submit', a, b, '--front', '--priority', '0', '--json'], env);
      const front = JSON.parse(second.stdout).map((j: any) => j.prompt_id);
      const q = JSON.parse((await runCli(['ls', '--json'], env)).stdout);
      assert.deepEqual(
        q.pending.map((j: any) => j.prompt_id),
        [...front, ja.prompt_id],
      );
      const ls = await runCli(['ls'], env);
      assert.equal(ls.code, 0);
      assert.match(ls.stdout, /^queue PAUSED/);
      assert.match(ls.stdout, /^ID {8}NAME +STATUS +PRI +WORKER +PROGRESS$/m);
      assert.match(ls.stdout, new RegExp(`^${front[0].slice(0, 8)}  a +pending +0`, 'm'));
      const del = await runCli(['rm', ...[...front, ja.prompt_id].map((id: string) => id.slice(0, 10))], env);
      assert.equal(del.code, 0, del.stderr);
      assert.equal(del.stdout.split('\n').filter((l) => l.startsWith('deleted ')).length, 3);
    } finally {
      await runCli(['resume'], env);
    }
  });

  test('a -5 priority is a number, not a flag', async () => {
    await runCli(['pause'], env);
    try {
      const r = await runCli(
        ['submit', file('low.json', t2iPrompt(1, 3)), '--priority', '-5', '--json'],
        env,
      );
      assert.equal(r.code, 0, r.stderr);
      const [job] = JSON.parse(r.stdout);
      assert.equal(job.priority, -5);
      assert.equal((await runCli(['cancel', job.prompt_id.slice(0, 8)], env)).code, 0);
    } finally {
      await runCli(['resume'], env);
    }
  });
});

describe('one job: show, cancel, rm, requeue', () => {
  test('show by a short id, in full and as JSON', async () => {
    const r = await runCli(['submit', file('show.json', t2iPrompt(2, 11)), '--name', 'shown', '--wait'], env);
    const id = r.stdout.match(/^queued ([0-9a-f]{8})/m)?.[1] as string;
    const s = await runCli(['show', id], env);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, new RegExp(`^id +${id}-`, 'm'));
    assert.match(s.stdout, /^status +completed$/m);
    assert.match(s.stdout, /^outputs +node 9 images: ComfyUI_\d+_\.png \(output\)$/m);
    assert.match(s.stdout, /^graph +7 nodes: .*CLIPTextEncode ×2/m);
    const j = JSON.parse((await runCli(['show', id, '--json'], env)).stdout);
    assert.equal(j.name, 'shown');
    assert.equal(j.prompt['3'].inputs.seed, 11);

    const again = await runCli(['requeue', id, '--new-seed', '--json'], env);
    assert.equal(again.code, 0, again.stderr);
    const nj = JSON.parse(again.stdout);
    assert.equal(nj.requeued_from, j.prompt_id);
    assert.notEqual(nj.prompt['3'].inputs.seed, 11);

    const c = await runCli(['cancel', id], env);
    assert.equal(c.code, 1);
    assert.match(c.stderr, /NOT_CANCELLABLE/);
  });

  test('a prefix shared by two jobs is refused; a longer one names one', async () => {
    await runCli(['pause'], env);
    try {
      const ids = ['abcd0000-0000-4000-8000-000000000001', 'abcd0001-0000-4000-8000-000000000002'];
      for (const [i, id] of ids.entries()) {
        const r = await runCli(
          ['submit', file(`p${i}.json`, { prompt: t2iPrompt(1, 40 + i), prompt_id: id })],
          env,
        );
        assert.equal(r.code, 0, r.stderr);
      }
      const both = await runCli(['show', 'abcd'], env);
      assert.equal(both.code, 1);
      assert.match(both.stderr, /"abcd" matches more than one job/);
      const one = await runCli(['cancel', 'abcd0001'], env);
      assert.equal(one.code, 0, one.stderr);
      assert.match(one.stdout, /^cancelled abcd0001/);
      assert.equal((await runCli(['rm', 'ABCD0000', 'abcd0001'], env)).code, 0);
    } finally {
      await runCli(['resume'], env);
    }
  });

  test('cancel a pending job; rm refuses a running one and says why', async () => {
    await runCli(['pause'], env);
    const sub = await runCli(['submit', file('c.json', t2iPrompt(1, 21)), '--json'], env);
    const id = JSON.parse(sub.stdout)[0].prompt_id;
    const c = await runCli(['cancel', id.slice(0, 8)], env);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, new RegExp(`^cancelled ${id.slice(0, 8)}`));
    await runCli(['resume'], env);

    const long = await runCli(['submit', file('long.json', { prompt: t2iPrompt(2000, 22) }), '--json'], env);
    const lid = JSON.parse(long.stdout)[0].prompt_id;
    await new Promise<void>((resolve) => {
      const poll = async () => {
        const job = (await http('GET', `${server.url}/api/pqueue/jobs/${lid}`)).body;
        if (job.status === 'in_progress') resolve();
        else setTimeout(poll, 20);
      };
      void poll();
    });
    const rm = await runCli(['rm', lid], env);
    assert.equal(rm.code, 1);
    assert.match(rm.stderr, /not deleted: .*running/);
    assert.equal((await runCli(['cancel', lid], env)).code, 0);
  });
});

describe('history, workers, watch', () => {
  test('history filters by status and time and prints a table', async () => {
    const failed = await runCli(['history', '--status', 'failed', '--since', '-1h', '--json'], env);
    assert.equal(failed.code, 0, failed.stderr);
    const jobs = JSON.parse(failed.stdout).jobs;
    assert.ok(jobs.length >= 1);
    assert.ok(jobs.every((j: any) => j.status === 'failed'));
    const t = await runCli(['history', '--limit', '2'], env);
    assert.match(t.stdout, /^ID +NAME +STATUS +WORKER +CREATED +TOOK +RESULT$/m);
    assert.equal(
      t.stdout
        .trim()
        .split('\n')
        .filter((l) => /^[0-9a-f]{8} {2}/.test(l)).length,
      2,
    );
    const none = await runCli(['history', '--since', '2999-01-01'], env);
    assert.equal(none.stdout, 'no finished job matches\n');
  });

  test('workers lists the simulated worker', async () => {
    const r = await runCli(['workers'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ID +URL +STATE +CAP +TAGS +JOBS +LAST HOUR/m);
    assert.match(r.stdout, /^w1 +http:\/\/127\.0\.0\.1:\d+ +online +\d+ .*\d+ done, \d+ failed/m);
    const j = JSON.parse((await runCli(['workers', '--json'], env)).stdout);
    assert.equal(j[0].id, 'w1');
    assert.equal(j[0].mode, 'active');
    assert.ok(Array.isArray(j[0].tags));
    assert.equal(j[0].quarantined_until, null);
  });

  test('watch prints a line per change and exits 0 on Ctrl-C', async () => {
    const proc = startCli(['watch'], env);
    const watch = follow(proc);
    await watch.waitFor(/watching http/, 'the watch to start');
    const sub = await runCli(['submit', file('w.json', { prompt: t2iPrompt(80, 31), name: 'watched' })], env);
    const id = sub.stdout.match(/^queued ([0-9a-f]{8})/m)?.[1] as string;
    await watch.waitFor(new RegExp(`completed  ${id}  watched in`), 'the job to end');
    proc.kill('SIGINT');
    const r = await watch.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`queued     ${id}  watched`));
    assert.match(r.stdout, new RegExp(`started    ${id}  watched on w1`));
    assert.match(r.stdout, new RegExp(`^${id}  watched +\\d+%  KSampler \\d+/80`, 'm'));
  });
});
