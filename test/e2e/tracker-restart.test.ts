/**
 * The render tracker across a restart of the server on the same data folder:
 * an external worker's claim holds until its lease ends (its reports still
 * count), then goes back to the queue; a job of a farm worker that the new
 * command line no longer names goes back at once.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startSimulator } from '../../src/sim/index.js';
import { http, startTestServer, t2iPrompt, tempDir, until } from '../helpers/harness.js';

type Server = Awaited<ReturnType<typeof startTestServer>>;

async function withBatch(server: Server, name: string, count: number): Promise<void> {
  const b = await http('POST', `${server.url}/api/pqueue/batches`, { name, prompt: t2iPrompt(1, 0), count });
  assert.equal(b.status, 201, b.text);
}

async function item(server: Server, id: string): Promise<any> {
  const r = await http('GET', `${server.url}/preview/${id}`);
  assert.equal(r.status, 200, r.text);
  return r.body;
}

describe('external claims across a server restart', () => {
  it('keeps a claim whose lease holds, and takes its reports after the restart', async () => {
    const data = tempDir();
    let server = await startTestServer({ comfyUrls: [], dataDir: data.path });
    try {
      await withBatch(server, 'kept', 3);
      const claim = (await http('GET', `${server.url}/next-job?worker=studio-1`)).body;
      const other = (await http('GET', `${server.url}/next-job?worker=studio-2`)).body;
      await server.close();
      server = await startTestServer({ comfyUrls: [], dataDir: data.path });

      const after = await item(server, claim.job_id);
      assert.equal(after.status, 'working');
      assert.equal(after.worker, 'studio-1');
      const next = (await http('GET', `${server.url}/next-job?worker=studio-3`)).body;
      assert.equal(next.index, 3, 'the claimed items stay claimed');

      const renewed = await http('POST', `${server.url}/job/${claim.job_id}/status`, {
        status: 'working',
        worker: 'studio-1',
      });
      assert.equal(renewed.status, 200, renewed.text);
      const wrong = await http('POST', `${server.url}/job/${claim.job_id}/status`, {
        status: 'complete',
        worker: 'studio-2',
      });
      assert.equal(wrong.body.error.code, 'NOT_CLAIMED');
      const done = await http('POST', `${server.url}/job/${claim.job_id}/status`, {
        status: 'complete',
        worker: 'studio-1',
        output_url: 's3://bucket/kept/1.png',
      });
      assert.equal(done.status, 200, done.text);
      assert.equal(done.body.status, 'complete');
      const error = await http('POST', `${server.url}/job/kept:${other.index}/status`, {
        status: 'error',
        worker: 'studio-2',
        message: 'out of memory',
      });
      assert.equal(error.body.status, 'error');
    } finally {
      await server.close();
      data.remove();
    }
  });

  it('gives a kept claim back once its lease ends, and refuses its late report', async () => {
    const data = tempDir();
    let server = await startTestServer({ comfyUrls: [], dataDir: data.path, leaseMs: 2_000 });
    try {
      await withBatch(server, 'lapsed', 2);
      const claim = (await http('GET', `${server.url}/next-job?worker=vanishing`)).body;
      await server.close();
      server = await startTestServer({ comfyUrls: [], dataDir: data.path, leaseMs: 2_000 });
      const s = server;
      const back = await until(async () => {
        const j = await item(s, claim.job_id);
        return j.status === 'inactive' ? j : undefined;
      }, 'the lapsed claim to come back');
      assert.equal(back.worker, null);
      const late = await http('POST', `${server.url}/job/${claim.job_id}/status`, {
        status: 'complete',
        worker: 'vanishing',
      });
      assert.equal(late.body.error.code, 'NOT_CLAIMED');
      const again = (await http('GET', `${server.url}/next-job?worker=heir`)).body;
      assert.equal(again.job_id, claim.job_id, 'the returned item is next in line');
    } finally {
      await server.close();
      data.remove();
    }
  });

  it('returns a job of a farm worker the new command line no longer names, and keeps that name off external claims', async () => {
    const sim = await startSimulator({ port: 0, stepMs: 100 });
    const data = tempDir();
    let server = await startTestServer({ comfyUrls: [`gone=${sim.url}`], dataDir: data.path });
    try {
      const job = await http('POST', `${server.url}/api/pqueue/jobs`, { prompt: t2iPrompt(200, 1) });
      assert.equal(job.status, 201, job.text);
      const id: string = job.body.prompt_id;
      const s = server;
      await until(async () => {
        const j = await http('GET', `${s.url}/api/pqueue/jobs/${id}`);
        return j.body.status === 'in_progress' ? true : undefined;
      }, 'the job to run on the farm worker');
      await server.close();
      server = await startTestServer({ comfyUrls: [], dataDir: data.path });
      const j = await http('GET', `${server.url}/api/pqueue/jobs/${id}`);
      assert.equal(j.body.status, 'pending');
      const refused = await http('GET', `${server.url}/next-job?worker=gone`);
      assert.equal(refused.body.error.code, 'DUPLICATE_WORKER');
    } finally {
      await server.close();
      data.remove();
      await sim.close();
    }
  });
});
