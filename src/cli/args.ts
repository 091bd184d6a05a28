/**
 * Flag parsing shared by every command: node's parseArgs, strict, with two
 * things it does not do — a negative number after a flag (`--priority -5`,
 * which parseArgs calls ambiguous) is that flag's value, and its errors
 * become one plain line that says where the help is.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';

/** A mistake on the command line: one line on stderr, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** `--flag -5` becomes `--flag=-5`: a dash followed by a digit is a number, never a flag. */
export function joinNegativeValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const next = argv[i + 1];
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (/^--[^=]+$/.test(a) && next !== undefined && /^-\.?\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

export type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs for `comfy-queue <command>`; a mistake is a UsageError. */
export function parseCommand<O extends Options>(
  command: string,
  argv: readonly string[],
  options: O,
  positionals = false,
) {
  try {
    return parseArgs({
      args: joinNegativeValues(argv),
      options,
      strict: true,
      allowPositionals: positionals,
    });
  } catch (err) {
    const e = err as { code?: string; message: string };
    if (!e.code?.startsWith('ERR_PARSE_ARGS')) throw err;
    throw new UsageError(`${command}: ${plainParseError(e.message)} (see \`comfy-queue help ${command}\`)`);
  }
}

/** parseArgs's messages, shortened to what a person needs. */
export function plainParseError(message: string): string {
  const unknown = message.match(/^Unknown option '([^']+)'/);
  if (unknown) return `unknown flag ${unknown[1]}`;
  const positional = message.match(/^Unexpected argument '([^']+)'/);
  if (positional) return `unexpected argument "${positional[1]}"`;
  const missing = message.match(/^Option '(-[^ ']*)[^']*' argument missing/);
  if (missing) return `${missing[1]} needs a value`;
  const noArg = message.match(/^Option '(-[^ ']*)[^']*' does not take an argument/);
  if (noArg) return `${noArg[1]} takes no value`;
  const ambiguous = message.match(/^Option '(-[^ ']*)[^']*' argument is ambiguous/);
  if (ambiguous) return `${ambiguous[1]}: give a value that starts with "-" as ${ambiguous[1]}=VALUE`;
  return message.split('. ')[0] ?? message;
}

/** An integer flag value within bounds, or a UsageError naming the flag. */
export function intFlag(raw: string | undefined, name: string, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max} (got "${raw}")`);
  }
  return n;
}
