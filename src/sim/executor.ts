/**
 * Runs one prompt the way ComfyUI's PromptExecutor does, sending messages in
 * the order and to the targets of comfyui-protocol.md §3.2/§3.5 and building
 * the history entry. Caching follows the classic cache: a node whose
 * class_type and inputs (links by upstream signature) match a node of the
 * previous prompt is served from cache; entries of older prompts are dropped.
 */
import { setTimeout as sleep, setImmediate as yieldTick } from 'node:timers/promises';
import { encodePreviewImage, encodePreviewWithMetadata, encodeText } from '../comfy/binary-frames.js';
import { type ApiPrompt, type ObjectInfoMap, pyStr } from '../domain/prompt-graph.js';
import { isLink, signatures } from './cache-keys.js';
import type { FileStore } from './file-store.js';
import type { HistoryEntry } from './history.js';
import {
  BEHAVIOURS,
  type NodeContext,
  NodeFailure,
  SAMPLER_CLASSES,
  type StepOptions,
} from './node-behaviour.js';
import { exposed, type QueueItem } from './prompt-queue.js';
import { describeValue, type SimValue } from './sim-values.js';
import type { Target, WsHub } from './ws-hub.js';

export type Outcome = 'success' | 'error' | 'interrupted';

class Interrupted extends Error {
  constructor(readonly nodeId: string) {
    super('interrupted');
  }
}

interface Cached {
  outputs: SimValue[];
  ui: Record<string, unknown> | undefined;
}

interface NodeProgress {
  value: number;
  max: number;
  state: 'running' | 'finished';
  node_id: string;
  prompt_id: string;
  display_node_id: string;
  parent_node_id: null;
  real_node_id: string;
}

export interface ExecutorOptions {
  hub: WsHub;
  files: FileStore;
  objectInfo: () => ObjectInfoMap;
  stepMs: number;
  failRate: number;
  /** what a failRate failure raises: an ordinary RuntimeError, or CUDA out of memory */
  failKind?: 'runtime' | 'oom';
  /** the sampler hangs at this step, sending nothing, until interrupted */
  stallAtStep?: number;
  /** a checkpoint change sleeps this long */
  modelLoadMs?: number;
  /** false: a cached output node sends no `executed`, as older ComfyUI did (default true) */
  resendCachedUi?: boolean;
  signal: AbortSignal;
}

function traceback(at: NodeFailure['raisedAt']): string[] {
  const exe = '/opt/ComfyUI/execution.py';
  return [
    `  File "${exe}", line 542, in execute\n    output_data, output_ui, has_subgraph, has_pending_tasks = await get_output_data(prompt_id, unique_id, obj, input_data_all, execution_block_cb=execution_block_cb, pre_execute_cb=pre_execute_cb, v3_data=v3_data)\n`,
    `  File "${exe}", line 341, in get_output_data\n    return_values = await _async_map_node_over_list(prompt_id, unique_id, obj, input_data_all, obj.FUNCTION, allow_interrupt=True, execution_block_cb=execution_block_cb, pre_execute_cb=pre_execute_cb, v3_data=v3_data)\n`,
    `  File "${exe}", line 315, in _async_map_node_over_list\n    await process_inputs(input_dict, i)\n`,
    `  File "${exe}", line 303, in process_inputs\n    result = f(**inputs)\n             ^^^^^^^^^^^\n`,
    `  File "${at.file}", line ${at.line}, in ${at.fn}\n    ${at.code}\n`,
  ];
}

export class Executor {
  /** ComfyUI's `server.client_id`: the sid that gets this prompt's events (null = none). */
  clientId: Target = null;
  /** ComfyUI's `server.last_node_id`: the display id of the running node, for reconnects. */
  lastNodeId: string | null = null;
  private interruptRequested = false;
  private cache = new Map<string, Cached>();
  /** the checkpoint in memory, and how many times one was loaded (`GET /sim/models`) */
  readonly models = { loaded: null as string | null, loads: 0 };

  constructor(private readonly opts: ExecutorOptions) {}

  /** Sets the interrupt flag; honoured at the next check point of the running prompt. */
  interrupt(): void {
    this.interruptRequested = true;
  }

  /** Drops every cached node output (`POST /free {"free_memory": true}`). */
  clearCache(): void {
    this.cache.clear();
  }

  private wait(ms: number): Promise<unknown> {
    const signal = this.opts.signal;
    return ms > 0 ? sleep(ms, undefined, { signal }) : yieldTick(undefined, { signal });
  }

  /** Runs one prompt; the terminal event is sent before this resolves, the history entry is the caller's to write. */
  async run(item: QueueItem): Promise<{ entry: HistoryEntry; outcome: Outcome }> {
    const { hub } = this.opts;
    const { prompt, promptId } = item;
    this.interruptRequested = false;
    const cid = item.extraData.client_id;
    const client: Target = cid === undefined || cid === null ? null : String(cid);
    this.clientId = client;
    const messages: [string, unknown][] = [];
    const add = (event: string, data: Record<string, unknown>, broadcast: boolean) => {
      const stamped = { ...data, timestamp: Date.now() };
      messages.push([event, stamped]);
      if (client !== null || broadcast) hub.send(event, stamped, client);
    };
    const sigs = signatures(prompt);
    const cachedIds = new Set(Object.keys(prompt).filter((id) => this.cache.has(sigs.get(id)!)));
    add('execution_start', { prompt_id: promptId }, false);
    add('execution_cached', { nodes: [...cachedIds], prompt_id: promptId }, false);

    const order: string[] = [];
    const seen = new Set<string>();
    const visit = (id: string) => {
      if (seen.has(id)) return;
      seen.add(id);
      if (!cachedIds.has(id)) {
        for (const v of Object.values(prompt[id]!.inputs)) {
          if (isLink(v) && !cachedIds.has(String(v[0]))) visit(String(v[0]));
        }
      }
      order.push(id);
    };
    item.outputs.forEach(visit);

    const info = this.opts.objectInfo();
    const progress: Record<string, NodeProgress> = {};
    const sendProgressState = () =>
      hub.send('progress_state', { prompt_id: promptId, nodes: progress }, client);
    const setProgress = (id: string, value: number, max: number, state: NodeProgress['state']) => {
      progress[id] = {
        value,
        max,
        state,
        node_id: id,
        prompt_id: promptId,
        display_node_id: id,
        parent_node_id: null,
        real_node_id: id,
      };
      sendProgressState();
    };
    const values = new Map<string, SimValue[]>();
    for (const id of cachedIds) values.set(id, this.cache.get(sigs.get(id)!)!.outputs);
    const executed: string[] = [];
    const outputs: Record<string, unknown> = {};
    const meta: Record<string, unknown> = {};
    const recordUi = (id: string, ui: Record<string, unknown>) => {
      outputs[id] = ui;
      meta[id] = { node_id: id, display_node: id, parent_node: null, real_node_id: id };
    };
    const runnable = order.filter((id) => !cachedIds.has(id));
    const failing =
      this.opts.failRate > 0 && Math.random() < this.opts.failRate
        ? (runnable.find((id) => SAMPLER_CLASSES.has(prompt[id]!.class_type)) ?? runnable.at(-1))
        : undefined;

    let outcome: Outcome = 'success';
    let current = '';
    let currentInputs: Record<string, unknown> = {};
    try {
      for (const id of order) {
        current = id;
        const node = prompt[id]!;
        if (cachedIds.has(id)) {
          // A cached output node re-sends its UI output; history keeps it only with a client (v0.26 quirk).
          // An older ComfyUI sent nothing for it and kept its output in history from a cache of its own.
          const ui = this.cache.get(sigs.get(id)!)!.ui;
          if (this.opts.resendCachedUi === false) {
            if (ui) recordUi(id, ui);
          } else if (client !== null) {
            hub.send(
              'executed',
              { node: id, display_node: id, output: ui ?? null, prompt_id: promptId },
              client,
            );
            if (ui) recordUi(id, ui);
          }
          setProgress(id, 1, 1, 'finished');
          continue;
        }
        setProgress(id, 0, 1, 'running');
        this.lastNodeId = id;
        if (client !== null)
          hub.send('executing', { node: id, display_node: id, prompt_id: promptId }, client);
        await this.wait(0);
        if (this.interruptRequested) throw new Interrupted(id);
        currentInputs = this.resolveInputs(prompt, id, values, info);
        const simulatedFailure = id === failing;
        const failure =
          this.opts.failKind === 'oom'
            ? new NodeFailure(
                'Allocation on device 0 would exceed allowed memory. (out of memory)',
                'torch.OutOfMemoryError',
                {
                  file: '/opt/ComfyUI/comfy/model_management.py',
                  line: 1,
                  fn: node.class_type,
                  code: 'raise torch.OutOfMemoryError("Allocation on device")',
                },
              )
            : new NodeFailure('Simulated failure (failRate)', 'RuntimeError', {
                file: '/opt/ComfyUI/nodes.py',
                line: 1,
                fn: node.class_type,
                code: 'raise RuntimeError("Simulated failure (failRate)")',
              });
        if (simulatedFailure && !SAMPLER_CLASSES.has(node.class_type)) throw failure;
        let last = { at: 0, value: 0 };
        const ctx: NodeContext = {
          nodeId: id,
          inputs: currentInputs,
          prompt,
          extraPngInfo: item.extraData.extra_pnginfo,
          files: this.opts.files,
          stepMs: this.opts.stepMs,
          previews: item.extraData.preview_method !== 'none',
          random: Math.random,
          step: async (value: number, max: number, o: StepOptions) => {
            await this.wait(o.waitMs);
            // A hung worker: no message at all until someone interrupts the prompt.
            while (value === this.opts.stallAtStep && !this.interruptRequested) await this.wait(5);
            if (this.interruptRequested) throw new Interrupted(id);
            // ComfyUI's ProgressBar throttle: first, last and preview-carrying updates always go out.
            const now = performance.now();
            const due = value === 1 || value >= max || o.preview !== null;
            if (due || (now - last.at >= 100 && (value - last.value) / max >= 0.005)) {
              last = { at: now, value };
              this.sendStep(client, promptId, id, value, max, o.preview, setProgress);
            }
            if (o.text !== undefined) hub.sendBinary(encodeText(id, o.text), null);
            if (simulatedFailure && value === Math.ceil(max / 2)) throw failure;
          },
        };
        if (node.class_type === 'CheckpointLoaderSimple') await this.loadModel(currentInputs.ckpt_name);
        const behaviour = BEHAVIOURS[node.class_type];
        const result = behaviour ? await behaviour(ctx) : { outputs: [] };
        values.set(id, result.outputs);
        if (result.ui) {
          recordUi(id, result.ui);
          if (client !== null) {
            hub.send(
              'executed',
              { node: id, display_node: id, output: result.ui, prompt_id: promptId },
              client,
            );
          }
        }
        const p = progress[id]!;
        setProgress(id, p.max, p.max, 'finished');
        executed.push(id);
        this.cache.set(sigs.get(id)!, { outputs: result.outputs, ui: result.ui });
      }
      add('execution_success', { prompt_id: promptId }, false);
    } catch (e) {
      if (this.opts.signal.aborted) throw e;
      const nodeType = prompt[current]?.class_type ?? '';
      const base = { prompt_id: promptId, node_id: current, node_type: nodeType, executed };
      if (e instanceof Interrupted) {
        outcome = 'interrupted';
        add('execution_interrupted', base, true);
      } else {
        outcome = 'error';
        const f = e instanceof NodeFailure ? e : null;
        add(
          'execution_error',
          {
            ...base,
            exception_message: `${f ? f.message : String(e)}\n`,
            exception_type: f ? f.exceptionType : 'Exception',
            traceback: f ? traceback(f.raisedAt) : [],
            current_inputs: Object.fromEntries(
              Object.entries(currentInputs).map(([k, v]) => [k, [describeValue(v)]]),
            ),
            current_outputs: Object.keys(prompt),
          },
          false,
        );
      }
    } finally {
      this.lastNodeId = null;
      const keep = new Set(sigs.values());
      for (const k of this.cache.keys()) if (!keep.has(k)) this.cache.delete(k);
    }
    const ok = outcome === 'success';
    const entry: HistoryEntry = {
      prompt: exposed(item),
      outputs,
      status: { status_str: ok ? 'success' : 'error', completed: ok, messages },
      meta,
    };
    return { entry, outcome };
  }

  /** A checkpoint other than the one in memory takes modelLoadMs to load. */
  private async loadModel(name: unknown): Promise<void> {
    const ckpt = String(name);
    if (this.models.loaded === ckpt) return;
    this.models.loaded = ckpt;
    this.models.loads++;
    await this.wait(this.opts.modelLoadMs ?? 0);
  }

  private sendStep(
    client: Target,
    promptId: string,
    id: string,
    value: number,
    max: number,
    preview: Buffer | null,
    setProgress: (id: string, value: number, max: number, state: 'running') => void,
  ): void {
    const { hub } = this.opts;
    const withMetadata = hub.supportsPreviewMetadata(client);
    setProgress(id, value, max, 'running');
    if (preview && withMetadata) {
      const metadata = {
        node_id: id,
        prompt_id: promptId,
        display_node_id: id,
        parent_node_id: null,
        real_node_id: id,
        image_type: 'image/jpeg' as const,
      };
      hub.sendBinary(encodePreviewWithMetadata(metadata, preview), client);
    }
    hub.send('progress', { value, max, prompt_id: promptId, node: id }, client);
    if (preview && !withMetadata) hub.sendBinary(encodePreviewImage('image/jpeg', preview), client);
  }

  /** Literal inputs plus upstream values, plus declared hidden inputs (as ComfyUI's get_input_data). */
  private resolveInputs(
    prompt: ApiPrompt,
    id: string,
    values: Map<string, SimValue[]>,
    info: ObjectInfoMap,
  ): Record<string, unknown> {
    const node = prompt[id]!;
    const cls = info[node.class_type];
    const out: Record<string, unknown> = {};
    const declared = [...Object.keys(cls?.input.required ?? {}), ...Object.keys(cls?.input.optional ?? {})];
    for (const name of declared) {
      if (!(name in node.inputs)) continue;
      const v = node.inputs[name];
      out[name] = isLink(v) ? values.get(String(v[0]))?.[v[1]] : v;
    }
    for (const [name, kind] of Object.entries(cls?.input.hidden ?? {})) {
      if (kind === 'UNIQUE_ID') out[name] = id;
      else if (kind === 'PROMPT') out[name] = pyStr(prompt);
    }
    return out;
  }
}
