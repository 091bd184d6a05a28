/** `comfy-queue watch`: the running jobs' progress, live, until Ctrl-C. */

import type { ApiJob } from '../api-types.js';
import { followEvents } from '../event-follow.js';
import { duration, shortId } from '../format.js';
import { JobBoard } from '../job-board.js';
import { errorText, LiveArea, progressLine } from '../progress-bar.js';
import { COMMON_HELP, type Command, client, parse } from './common.js';

export const watch: Command = {
  summary: 'live progress of the running jobs (Ctrl-C to stop)',
  help: `comfy-queue watch

Follows the queue live from the event websocket: one line per running job
(percent, node, step, ETA, worker), and a line for each job that is queued,
starts or ends, and for workers that come and go. On a terminal the running
jobs are redrawn in place; into a file or a pipe a line is printed for each
change. --json prints every event as one JSON object per line. Ctrl-C stops.

${COMMON_HELP}
`,
  async run(argv, ctx) {
    const { values } = parse('watch', argv, {});
    const api = client(values, ctx.env);
    const json = values.json === true;
    const board = new JobBoard();
    const area = new LiveArea(ctx.out);
    const clock = (at: number) => new Date(at).toTimeString().slice(0, 8);
    const running = () => [...board.entries.values()].filter((e) => e.job.status === 'in_progress');
    const render = () => {
      if (json) return;
      const now = ctx.now();
      const lines = new Map<string, string>();
      for (const e of running()) {
        // Off a terminal the ETA is the pushed one, so that a line is printed only when the job moved.
        const at = area.inPlace ? now : (e.progress?.at ?? now);
        lines.set(e.job.prompt_id, progressLine(e.job, e.progress, at, { withBar: area.inPlace }));
      }
      const footer = area.inPlace
        ? [`${board.paused ? 'queue PAUSED' : 'queue running'}, ${lines.size} running — Ctrl-C to stop`]
        : [];
      area.render(lines, footer);
    };
    const note = (at: number, text: string) => {
      if (!json) area.note(`${clock(at)}  ${text}`);
    };
    const follower = await followEvents(api, {
      onSnapshot(msg) {
        if (json) ctx.out.write(`${JSON.stringify(msg)}\n`);
        board.entries.clear();
        board.applySnapshot(msg);
        note(
          msg.at,
          `watching ${api.server}: queue ${msg.paused ? 'paused' : 'running'}, ${msg.running?.length ?? 0} running, ` +
            `${msg.workers?.length ?? 0} worker${msg.workers?.length === 1 ? '' : 's'} ` +
            `(${(msg.workers ?? []).map((w) => `${w.id} ${w.state}`).join(', ')})`,
        );
        render();
      },
      onEvent(msg) {
        if (json) {
          if (msg.type !== 'telemetry') ctx.out.write(`${JSON.stringify(msg)}\n`);
          return;
        }
        board.apply(msg);
        const j = msg.job;
        if (j) noteJob(msg.type, msg.at, j, msg.reason);
        else if (msg.type === 'queue.paused' || msg.type === 'queue.resumed')
          note(msg.at, msg.type === 'queue.paused' ? 'queue paused' : 'queue resumed');
        else if (msg.type === 'worker.online' || msg.type === 'worker.offline')
          note(msg.at, `worker ${msg.worker} ${msg.type.slice(7)}${msg.detail ? ` (${msg.detail})` : ''}`);
        render();
      },
      onReconnecting(reason) {
        if (!json) area.note(`${clock(ctx.now())}  ${reason}; connecting again…`);
      },
    });
    const timer = area.inPlace && !json ? setInterval(render, 500) : null;
    await ctx.interrupted();
    if (timer) clearInterval(timer);
    follower.close();
    return 0;

    function noteJob(type: string, at: number, j: ApiJob, reason: string | undefined): void {
      const label = `${shortId(j.prompt_id)}  ${j.display_name}`;
      switch (type) {
        case 'job.queued':
          note(at, `queued     ${label}`);
          break;
        case 'job.started':
          note(at, `started    ${label} on ${j.worker}`);
          break;
        case 'job.finished':
          note(
            at,
            `completed  ${label}${j.started_at && j.ended_at ? ` in ${duration(j.ended_at - j.started_at)}` : ''}`,
          );
          board.entries.delete(j.prompt_id);
          break;
        case 'job.failed':
          note(at, `failed     ${label}: ${errorText(j.error)}`);
          board.entries.delete(j.prompt_id);
          break;
        case 'job.cancelled':
          note(at, `cancelled  ${label}`);
          board.entries.delete(j.prompt_id);
          break;
        case 'job.released':
          note(at, `released   ${label}: ${reason} (pending again)`);
          break;
      }
    }
  },
};
