/**
 * What every command that talks to a server shares: `--server`, `--token`,
 * `--json`, `--help`, the environment behind them, and where output goes.
 */
import { ApiClient, DEFAULT_SERVER } from '../api-client.js';
import { type Options, parseCommand, UsageError } from '../args.js';
import type { Output } from '../progress-bar.js';

export const CLIENT_ENV = { server: 'COMFY_QUEUE_SERVER', token: 'COMFY_QUEUE_TOKEN' } as const;

export const COMMON_OPTIONS = {
  server: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

export const COMMON_HELP = `Every command takes:
  --server URL   the comfy-queue server (env COMFY_QUEUE_SERVER, default ${DEFAULT_SERVER})
  --token T      its token, when it runs with one (env COMFY_QUEUE_TOKEN)
  --json         print the API's JSON instead of text, for scripts
  --help         this help`;

export interface CommandContext {
  out: Output;
  err: Output;
  env: NodeJS.ProcessEnv;
  now: () => number;
  /** resolves when the user asks to stop (Ctrl-C); until it is called, Ctrl-C ends the process */
  interrupted(): Promise<void>;
}

export interface Command {
  /** one line for the overview */
  summary: string;
  /** the whole help of the command */
  help: string;
  run(argv: string[], ctx: CommandContext): Promise<number>;
}

/** Parses a command's flags with the common ones added. */
export function parse<O extends Options>(name: string, argv: string[], options: O, positionals = false) {
  return parseCommand(name, argv, { ...COMMON_OPTIONS, ...options }, positionals);
}

/** The API client of `--server`/`--token`, else the environment, else the default. */
export function client(values: { server?: unknown; token?: unknown }, env: NodeJS.ProcessEnv): ApiClient {
  const pick = (flag: unknown, name: string) =>
    typeof flag === 'string' ? flag : env[name] === '' ? undefined : env[name];
  const server = pick(values.server, CLIENT_ENV.server) ?? DEFAULT_SERVER;
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new UsageError(`--server ${server}: not a URL (expected e.g. ${DEFAULT_SERVER})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--server ${server}: give an http:// or https:// address`);
  }
  return new ApiClient({ server, token: pick(values.token, CLIENT_ENV.token) ?? null });
}

export function printJson(out: Output, value: unknown): void {
  out.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Exactly `n` positionals (or at least `min`), else a usage error naming them. */
export function needPositionals(
  name: string,
  positionals: string[],
  what: string,
  min = 1,
  max = Infinity,
): void {
  if (positionals.length < min)
    throw new UsageError(`${name}: give ${what} (see \`comfy-queue help ${name}\`)`);
  if (positionals.length > max)
    throw new UsageError(`${name}: too many arguments: ${positionals.slice(max).join(' ')}`);
}

/** "in_progress" reads "running" in the terminal. */
export function statusWord(status: string): string {
  return status === 'in_progress' ? 'running' : status;
}
