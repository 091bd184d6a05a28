/**
 * The state of one simulated ComfyUI server: queue, history, sockets, files
 * and the single worker that executes prompts one at a time. Everything is
 * per instance, so several simulators can run in one process.
 */
import { randomUUID } from 'node:crypto';
import { setImmediate as yieldTick } from 'node:timers/promises';
import { isCanonicalUuid } from '../domain/ids.js';
import {
  invalidPromptIdError,
  type NodeErrors,
  noPromptError,
  type ObjectInfoMap,
  validatePrompt,
} from '../domain/prompt-graph.js';
import { Executor, type Outcome } from './executor.js';
import { FileStore } from './file-store.js';
import { History } from './history.js';
import { buildObjectInfo } from './node-catalog.js';
import { PromptQueue, type QueueItem } from './prompt-queue.js';
import { buildWebUi, type WebUiFile } from './web-ui.js';
import type { WireOptions } from './wire.js';
import { WsHub } from './ws-hub.js';

/** A bundle about the size of ComfyUI's main chunk, small enough to build in a few ms. */
const DEFAULT_BUNDLE_BYTES = 3 * 1024 * 1024;

export interface SimulatorOptions {
  host?: string;
  /** 0 = an ephemeral port. */
  port?: number;
  /** Time per KSampler step, ms (default 50). FakeSampler uses its own step_seconds input. */
  stepMs?: number;
  /** Probability (0..1) that a run raises an execution_error (default 0). */
  failRate?: number;
  /** What a `failRate` failure looks like: an ordinary RuntimeError (default) or CUDA running out of memory. */
  failKind?: 'runtime' | 'oom';
  /** The checkpoints its CheckpointLoaderSimple offers (default: the three of node-catalog.ts). */
  checkpoints?: readonly string[];
  /**
   * Tests: the sampler hangs at this step (1-based) of every prompt, sending
   * nothing more, until the prompt is interrupted: a worker that stalls mid-job.
   */
  stallAtStep?: number;
  /**
   * Time a checkpoint change costs, ms (default 0): a CheckpointLoaderSimple
   * run whose ckpt_name differs from the last one loaded sleeps this long.
   */
  modelLoadMs?: number;
  /**
   * false: a cached output node sends no `executed` message, though its
   * history entry keeps the cached output, as older ComfyUI did (default true).
   */
  resendCachedUi?: boolean;
  /** Node types this worker does not have (a custom node pack not installed). */
  withoutNodes?: readonly string[];
  /** Folder for `output` images; default: kept in memory. */
  outputDir?: string;
  /** ComfyUI's 403 when Origin's host differs from a loopback Host (default true). */
  enforceOrigin?: boolean;
  /** How answers go on the wire: `AIOHTTP_WIRE` for aiohttp's separate header and body writes (default: one write). */
  wire?: WireOptions;
  /** Serve a stand-in web frontend at `/` (true, or the size of its JS bundle in bytes; default off). */
  webUi?: boolean | number;
  /**
   * Tests: awaited inside `POST /prompt` before the prompt is queued
   * (`before-queue`) and before the answer is sent (`before-answer`), to hold
   * a submission open at a chosen point.
   */
  promptGate?: (promptId: string, stage: 'before-queue' | 'before-answer') => Promise<void> | void;
  /** Serve https:// (and wss://) with this key and certificate (PEM). */
  tls?: { key: string | Buffer; cert: string | Buffer };
}

/** One entry of `GET /sim/executions`; `end` and `outcome` stay null while it runs. */
export interface ExecutionRecord {
  prompt_id: string;
  start: number;
  end: number | null;
  outcome: Outcome | null;
}

export type PostPromptAnswer =
  | { status: 200; body: { prompt_id: string; number: number; node_errors: NodeErrors } }
  | { status: 400; body: unknown };

const SENSITIVE_KEYS = ['auth_token_comfy_org', 'api_key_comfy_org'];

export class SimState {
  readonly hub = new WsHub();
  readonly queue = new PromptQueue();
  readonly history = new History();
  readonly files: FileStore;
  readonly executions: ExecutionRecord[] = [];
  readonly executor: Executor;
  running: QueueItem | null = null;
  private counter = 0;
  private working = false;
  private readonly abort = new AbortController();

  /** Answers finished, and answers whose client went away before the last byte (`GET /sim/wire`). */
  readonly wireStats = { answered: 0, aborted: 0 };
  /** GET /view answers with a file, by `type/subfolder/name` */
  readonly viewed = new Map<string, number>();
  /** GET /history/{prompt_id} answers, by prompt id */
  readonly historyReads = new Map<string, number>();
  /** The stand-in frontend's files by path, when `webUi` is on. */
  readonly webUi: Map<string, WebUiFile> | null;

  constructor(readonly opts: SimulatorOptions) {
    this.webUi =
      opts.webUi === undefined || opts.webUi === false
        ? null
        : buildWebUi(typeof opts.webUi === 'number' ? opts.webUi : DEFAULT_BUNDLE_BYTES);
    this.files = new FileStore(opts.outputDir);
    this.executor = new Executor({
      hub: this.hub,
      files: this.files,
      objectInfo: () => this.objectInfo(),
      stepMs: opts.stepMs ?? 50,
      failRate: opts.failRate ?? 0,
      failKind: opts.failKind ?? 'runtime',
      stallAtStep: opts.stallAtStep,
      modelLoadMs: opts.modelLoadMs ?? 0,
      resendCachedUi: opts.resendCachedUi ?? true,
      signal: this.abort.signal,
    });
  }

  objectInfo(): ObjectInfoMap {
    const info = buildObjectInfo(this.files.list('input', ''));
    for (const name of this.opts.withoutNodes ?? []) delete info[name];
    // A copy: the catalog's definitions are shared by every simulator of the process.
    const loader =
      this.opts.checkpoints && info.CheckpointLoaderSimple
        ? structuredClone(info.CheckpointLoaderSimple)
        : undefined;
    if (loader && this.opts.checkpoints && loader.input?.required?.ckpt_name) {
      info.CheckpointLoaderSimple = loader;
      const [, extra] = loader.input.required.ckpt_name;
      loader.input.required.ckpt_name = extra
        ? [[...this.opts.checkpoints], extra]
        : [[...this.opts.checkpoints]];
    }
    return info;
  }

  queueRemaining(): number {
    return this.queue.size + (this.running ? 1 : 0);
  }

  broadcastStatus(): void {
    this.hub.send('status', { status: { exec_info: { queue_remaining: this.queueRemaining() } } }, null);
  }

  /** The messages a new socket gets: status with its sid, then `executing` if it is reconnecting mid-run. */
  hello(sid: string): object[] {
    const out: object[] = [
      { type: 'status', data: { status: { exec_info: { queue_remaining: this.queueRemaining() } }, sid } },
    ];
    if (this.executor.clientId === sid && this.executor.lastNodeId !== null) {
      out.push({ type: 'executing', data: { node: this.executor.lastNodeId } });
    }
    return out;
  }

  /** `POST /prompt` after JSON parsing (comfyui-protocol.md §2.1). */
  postPrompt(body: Record<string, unknown>, usageSource: string | undefined): PostPromptAnswer {
    let number: number;
    if ('number' in body) {
      number =
        typeof body.number === 'number' || typeof body.number === 'string' ? Number(body.number) : Number.NaN;
      // Python's float() raises here, which aiohttp turns into a 500.
      if (Number.isNaN(number)) throw new TypeError('float() argument must be a string or a real number');
    } else {
      number = body.front ? -this.counter : this.counter;
      this.counter++;
    }
    if (!('prompt' in body)) return { status: 400, body: noPromptError() };
    const pid = body.prompt_id;
    if (pid !== undefined && pid !== null && !isCanonicalUuid(pid))
      return { status: 400, body: invalidPromptIdError() };
    const promptId = typeof pid === 'string' ? pid : randomUUID();
    const targets = Array.isArray(body.partial_execution_targets)
      ? body.partial_execution_targets.map(String)
      : null;
    const result = validatePrompt(body.prompt, this.objectInfo(), targets);
    if (!result.ok) return { status: 400, body: result.body };
    const extraData: Record<string, unknown> =
      body.extra_data && typeof body.extra_data === 'object' ? { ...(body.extra_data as object) } : {};
    if ('client_id' in body) extraData.client_id = body.client_id;
    if (usageSource && !('comfy_usage_source' in extraData)) extraData.comfy_usage_source = usageSource;
    const sensitive: Record<string, unknown> = {};
    for (const k of SENSITIVE_KEYS) {
      if (k in extraData) {
        sensitive[k] = extraData[k];
        delete extraData[k];
      }
    }
    extraData.create_time = Date.now();
    this.queue.push({
      number,
      promptId,
      prompt: result.prompt,
      extraData,
      outputs: result.outputs,
      sensitive,
    });
    this.broadcastStatus();
    void this.work();
    return { status: 200, body: { prompt_id: promptId, number, node_errors: result.nodeErrors } };
  }

  deletePending(ids: unknown[]): void {
    for (const id of ids) {
      if (this.queue.delete(String(id))) this.broadcastStatus();
    }
  }

  clearPending(): void {
    this.queue.clear();
    this.broadcastStatus();
  }

  /** Global interrupt, or only when `promptId` is the running prompt. */
  interrupt(promptId?: string): void {
    if (promptId && this.running?.promptId !== promptId) return;
    if (this.running) this.executor.interrupt();
  }

  /** The prompt worker: one prompt at a time, lowest (number, prompt_id) first. */
  private async work(): Promise<void> {
    if (this.working) return;
    this.working = true;
    try {
      while (!this.abort.signal.aborted && this.queue.size > 0) {
        // Yield between prompts so HTTP and sockets are served even when runs are instant.
        await yieldTick(undefined, { signal: this.abort.signal });
        const item = this.queue.pop();
        if (!item) break;
        this.running = item;
        this.broadcastStatus();
        const record: ExecutionRecord = {
          prompt_id: item.promptId,
          start: Date.now(),
          end: null,
          outcome: null,
        };
        this.executions.push(record);
        const { entry, outcome } = await this.executor.run(item);
        this.history.add(item.promptId, entry);
        this.running = null;
        record.end = Date.now();
        record.outcome = outcome;
        this.broadcastStatus();
        const client = this.executor.clientId;
        if (client !== null) this.hub.send('executing', { node: null, prompt_id: item.promptId }, client);
      }
    } catch (e) {
      if (!this.abort.signal.aborted) throw e;
    } finally {
      this.working = false;
    }
  }

  close(): void {
    this.abort.abort();
    this.hub.closeAll();
  }
}
