/** Runs the built `comfy-queue` command to its end, as a user would, and collects what it printed. */
import { type ChildProcess, spawn } from 'node:child_process';
import { CLI, ROOT } from './harness.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment without comfy-queue's own variables, so that a developer's settings do not leak in. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('COMFY_QUEUE_')) env[k] = v;
  return { ...env, ...extra };
}

export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return collect(startCli(args, env));
}

export function collect(proc: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  proc.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  return new Promise((resolve, reject) => {
    proc.once('error', reject);
    proc.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A command left running (watch): everything it printed so far, and a wait for what it prints next. */
export function follow(proc: ChildProcess): {
  done: Promise<CliResult>;
  waitFor(re: RegExp, what: string): Promise<void>;
} {
  let stdout = '';
  proc.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  const done = collect(proc);
  return {
    done,
    waitFor(re, what) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!re.test(stdout)) return false;
          clearTimeout(timer);
          proc.stdout?.off('data', check);
          resolve();
          return true;
        };
        const timer = setTimeout(() => {
          proc.stdout?.off('data', check);
          reject(new Error(`timed out waiting for ${what}; saw:\n${stdout}`));
        }, 30_000);
        if (!check()) proc.stdout?.on('data', check);
      });
    },
  };
}
