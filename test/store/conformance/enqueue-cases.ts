import assert from 'node:assert/strict';
import { it } from 'node:test';
import { compareQueueOrder } from '../../../src/domain/job.js';
import { enqueueOk, newJob, pendingIds, type StoreFactory, withStore } from './harness.js';

export function enqueueCases(f: StoreFactory): void {
  it('enqueues one job as pending and answers it as stored', () =>
    withStore(f, async (s) => {
      const input = newJob({ name: 'first', clientId: 'sid-1', priority: 2 });
      const [res] = await s.enqueue([input]);
      assert.ok(res?.ok);
      const job = res.job;
      assert.equal(job.status, 'pending');
      assert.equal(job.attempts, 0);
      assert.equal(job.worker, null);
      assert.equal(job.startedAt, null);
      assert.equal(job.flagged, false);
      assert.deepEqual(await s.get(input.id), job);
      assert.equal(await s.get('no-such-id'), null);
    }));

  it('reads a job as it is stored now, however often it was read before', () =>
    withStore(f, async (s) => {
      const first = newJob({
        name: 'first',
        workflow: { id: 'wf-1' },
        extraData: { extra_pnginfo: { workflow: { id: 'wf-1' } } },
      });
      await enqueueOk(s, first);
      for (let i = 0; i < 3; i++) {
        assert.deepEqual((await s.listPending(5))[0]?.prompt, first.prompt);
        assert.equal((await s.get(first.id))?.name, 'first');
      }
      await s.rename(first.id, 'renamed');
      await s.setPriority(first.id, 7);
      const [head] = await s.listPending(5);
      assert.equal(head?.name, 'renamed');
      assert.equal(head?.priority, 7);
      // The same id deleted and sent again with another graph, workflow and extra data.
      await s.delete([first.id], ['pending']);
      const again = newJob({
        id: first.id,
        prompt: { '9': { class_type: 'SaveImage', inputs: { filename_prefix: 'again' } } },
        workflow: { id: 'wf-2' },
        extraData: { note: 'second' },
      });
      await enqueueOk(s, again);
      for (const read of [(await s.listPending(5))[0], await s.get(first.id)]) {
        assert.deepEqual(read?.prompt, again.prompt);
        assert.deepEqual(read?.workflow, { id: 'wf-2' });
        assert.deepEqual(read?.extraData, { note: 'second' });
        assert.equal(read?.name, null);
      }
    }));

  it('answers an empty enqueue with no results', () =>
    withStore(f, async (s) => {
      assert.deepEqual(await s.enqueue([]), []);
    }));

  it('writes concurrent calls together and keeps their arrival order', () =>
    withStore(f, async (s) => {
      const inputs = Array.from({ length: 50 }, () => [newJob()]);
      inputs.push([newJob(), newJob(), newJob()]);
      const results = await Promise.all(inputs.map((jobs) => s.enqueue(jobs)));
      const jobs = results.flat().map((r) => {
        assert.ok(r.ok);
        return r.job;
      });
      assert.equal(jobs.length, 53);
      for (let i = 1; i < jobs.length; i++) assert.ok(jobs[i]!.position > jobs[i - 1]!.position);
      assert.deepEqual(
        await pendingIds(s),
        inputs.flat().map((j) => j.id),
      );
      assert.equal((await s.counts()).pending, 53);
    }));

  it('refuses a duplicate id within one call, for that job alone', () =>
    withStore(f, async (s) => {
      const a = newJob({ name: 'original' });
      const b = newJob();
      const res = await s.enqueue([a, { ...a, name: 'copy' }, b]);
      assert.equal(res[0]?.ok, true);
      assert.deepEqual(res[1], { ok: false, code: 'DUPLICATE_ID', id: a.id });
      assert.equal(res[2]?.ok, true);
      assert.equal((await s.get(a.id))?.name, 'original');
      assert.equal((await s.counts()).pending, 2);
    }));

  it('stores none of an all-or-nothing call with a taken id, and leaves the other calls of its batch alone', () =>
    withStore(f, async (s) => {
      const [taken] = await enqueueOk(s, newJob({ name: 'original' }));
      const fresh = newJob();
      const alone = newJob();
      const [refused, other] = await Promise.all([
        s.enqueue([fresh, { ...newJob(), id: taken!.id }], { allOrNothing: true }),
        s.enqueue([alone]),
      ]);
      assert.deepEqual(refused, [
        { ok: false, code: 'NOT_STORED', id: fresh.id },
        { ok: false, code: 'DUPLICATE_ID', id: taken!.id },
      ]);
      assert.equal(other?.[0]?.ok, true);
      assert.equal(await s.get(fresh.id), null);
      assert.equal((await s.get(taken!.id))?.name, 'original');
      assert.deepEqual(await pendingIds(s), [taken!.id, alone.id]);
      // The same jobs without the taken id go in whole.
      const again = await s.enqueue([fresh, newJob()], { allOrNothing: true });
      assert.ok(again.every((r) => r.ok));
    }));

  it('refuses an all-or-nothing call that repeats an id', () =>
    withStore(f, async (s) => {
      const a = newJob();
      const res = await s.enqueue([a, { ...a, name: 'copy' }], { allOrNothing: true });
      assert.deepEqual(res, [
        { ok: false, code: 'NOT_STORED', id: a.id },
        { ok: false, code: 'DUPLICATE_ID', id: a.id },
      ]);
      assert.equal((await s.counts()).pending, 0);
    }));

  it('refuses a duplicate id within one batch of concurrent calls', () =>
    withStore(f, async (s) => {
      const a = newJob({ name: 'original' });
      const [r1, r2, r3] = await Promise.all([
        s.enqueue([a]),
        s.enqueue([{ ...a, name: 'copy' }]),
        s.enqueue([newJob()]),
      ]);
      assert.equal(r1?.[0]?.ok, true);
      assert.deepEqual(r2?.[0], { ok: false, code: 'DUPLICATE_ID', id: a.id });
      assert.equal(r3?.[0]?.ok, true);
      assert.equal((await s.get(a.id))?.name, 'original');
    }));

  it('refuses a duplicate id across batches, also of a finished job', () =>
    withStore(f, async (s) => {
      const [a] = await enqueueOk(s, newJob({ name: 'original' }));
      assert.deepEqual(await s.enqueue([{ ...newJob(), id: a!.id }]), [
        { ok: false, code: 'DUPLICATE_ID', id: a!.id },
      ]);
      await s.finishPending(a!.id, { status: 'cancelled', endedAt: 5 });
      const [again] = await s.enqueue([{ ...newJob(), id: a!.id }]);
      assert.equal(again?.ok, false);
      assert.equal((await s.get(a!.id))?.status, 'cancelled');
    }));

  it('places a normal job after every job, also finished and running ones', () =>
    withStore(f, async (s) => {
      const [a, b] = await enqueueOk(s, newJob(), newJob());
      await s.claimNext('w1', 1, 2);
      await s.finishPending(b!.id, { status: 'cancelled', endedAt: 3 });
      const [c] = await enqueueOk(s, newJob());
      assert.ok(c!.position > a!.position && c!.position > b!.position);
    }));

  it('places a front job before every pending job of its priority only', () =>
    withStore(f, async (s) => {
      const [low, high1, high2] = await enqueueOk(
        s,
        newJob(),
        newJob({ priority: 5 }),
        newJob({ priority: 5 }),
      );
      const [front] = await enqueueOk(s, newJob({ front: true }));
      const [frontHigh] = await enqueueOk(s, newJob({ priority: 5, front: true }));
      const [frontEmpty] = await enqueueOk(s, newJob({ priority: 9, front: true }));
      assert.deepEqual(await pendingIds(s), [
        frontEmpty!.id,
        frontHigh!.id,
        high1!.id,
        high2!.id,
        front!.id,
        low!.id,
      ]);
    }));

  it('runs and claims by priority, position, created_at, id (compareQueueOrder)', () =>
    withStore(f, async (s) => {
      // Equal positions come from front jobs whose priority changes later.
      const id = (first: string, last: number) =>
        `${first.repeat(8)}-0000-4000-8000-${String(last).padStart(12, '0')}`;
      const [a] = await enqueueOk(s, newJob({ createdAt: 900, id: id('a', 9) }));
      const [b] = await enqueueOk(s, newJob({ priority: 1, createdAt: 100, id: id('f', 1) }));
      const [c] = await enqueueOk(s, newJob({ priority: 1, front: true, createdAt: 500, id: id('b', 1) }));
      await s.setPriority(c!.id, 0);
      const [d] = await enqueueOk(s, newJob({ createdAt: 1 }));
      const [e] = await enqueueOk(s, newJob({ priority: 1, front: true, createdAt: 500, id: id('a', 1) }));
      await s.setPriority(e!.id, 0);
      assert.equal((await s.get(c!.id))?.position, a!.position);
      assert.equal((await s.get(e!.id))?.position, a!.position);
      const expected = [b!.id, e!.id, c!.id, a!.id, d!.id];
      const pending = await s.listPending(100);
      assert.deepEqual(
        pending.map((j) => j.id),
        expected,
      );
      assert.deepEqual(
        [...pending].sort(compareQueueOrder).map((j) => j.id),
        expected,
      );
      const claimed: string[] = [];
      for (let job = await s.claimNext('w', 1, 2); job; job = await s.claimNext('w', 1, 2))
        claimed.push(job.id);
      assert.deepEqual(claimed, expected);
    }));

  it('pages the pending list with limit and offset', () =>
    withStore(f, async (s) => {
      const jobs = await enqueueOk(s, ...Array.from({ length: 7 }, () => newJob()));
      const page = await s.listPending(3, 2);
      assert.deepEqual(
        page.map((j) => j.id),
        jobs.slice(2, 5).map((j) => j.id),
      );
      assert.deepEqual(await s.listPending(3), jobs.slice(0, 3));
    }));

  it('walks the pending jobs page by page in (created_at, id) order, none skipped when jobs ahead finish', () =>
    withStore(f, async (s) => {
      const id = (n: number) => `0000000${n}-0000-4000-8000-000000000000`;
      // Out of run order on purpose: the walk follows creation, not priority.
      const jobs = await enqueueOk(
        s,
        newJob({ id: id(3), createdAt: 20 }),
        newJob({ id: id(1), createdAt: 20, priority: 5 }),
        newJob({ id: id(2), createdAt: 10 }),
        newJob({ id: id(4), createdAt: 30 }),
        newJob({ id: id(5), createdAt: 40 }),
      );
      const first = await s.scanPending(2);
      assert.deepEqual(
        first.map((j) => j.id),
        [id(2), id(1)],
      );
      // A job already walked leaves the queue: the next page neither skips nor repeats one.
      await s.claimJob(id(2), 'w', 1, 2);
      const last = first.at(-1)!;
      const second = await s.scanPending(2, { createdAt: last.createdAt, id: last.id });
      assert.deepEqual(
        second.map((j) => j.id),
        [id(3), id(4)],
      );
      const end = second.at(-1)!;
      assert.deepEqual(
        (await s.scanPending(10, { createdAt: end.createdAt, id: end.id })).map((j) => j.id),
        [id(5)],
      );
      assert.deepEqual(await s.scanPending(10, { createdAt: 40, id: id(5) }), []);
      assert.equal(jobs.length, 5);
    }));

  it('keeps prompt, workflow and other JSON fields intact, non-ASCII text included', () =>
    withStore(f, async (s) => {
      const input = newJob({
        name: 'Portrait — 猫 🐈',
        prompt: {
          '6': {
            class_type: 'CLIPTextEncode',
            inputs: { text: 'ein Kätzchen, 一只猫, café ☕ 🐈‍⬛', clip: ['4', 1] },
          },
          '9': {
            class_type: 'SaveImage',
            inputs: { filename_prefix: 'ComfyUI' },
            _meta: { title: 'Sauvegarde' },
          },
        },
        workflow: {
          id: 'wf-1',
          nodes: [{ id: 6, widgets_values: ['ein Kätzchen 🐈'] }],
          extra: { ds: { scale: 1.5 } },
        },
        extraData: { extra_pnginfo: { note: 'naïve' }, empty: null, list: [1, 'two', { three: 3 }] },
        sensitive: { api_key_comfy_org: 'sekret-ключ' },
        targets: ['9'],
        requeuedFrom: 'c0000000-0000-4000-8000-000000000000',
      });
      const [job] = await enqueueOk(s, input);
      const got = await s.get(input.id);
      assert.deepEqual(got, job);
      assert.deepEqual(got?.prompt, input.prompt);
      assert.deepEqual(got?.workflow, input.workflow);
      assert.deepEqual(got?.extraData, input.extraData);
      assert.deepEqual(got?.sensitive, input.sensitive);
      assert.deepEqual(got?.targets, ['9']);
      assert.equal(got?.name, input.name);
    }));
}
