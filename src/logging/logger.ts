/**
 * The one logger of a comfy-queue server and the helpers that keep secrets
 * out of it. Parts that can be built without a server (tests, benchmarks) get
 * the silent logger unless given one.
 */
import { type DestinationStream, type Logger, pino } from 'pino';
import { textDestination } from './text-format.js';

export type { Logger };

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogOptions {
  level: LogLevel;
  /** JSON lines instead of the readable text lines */
  json: boolean;
  /** where lines go (default stdout); tests pass a stream to read them */
  destination?: DestinationStream;
}

const REDACTED = '[redacted]';

export function createLogger(opts: LogOptions): Logger {
  const out = opts.destination ?? process.stdout;
  return pino(
    {
      level: opts.level,
      base: undefined,
      redact: {
        paths: [
          'headers.authorization',
          'headers["x-comfy-queue-token"]',
          'req.headers.authorization',
          'req.headers["x-comfy-queue-token"]',
          'token',
          '*.token',
        ],
        censor: REDACTED,
      },
      serializers: { err: pino.stdSerializers.err },
    },
    opts.json ? out : textDestination(out),
  );
}

/** A logger that writes nothing: the default of parts built outside a server. */
export const silentLogger: Logger = pino({ level: 'silent' });

/** A URL (or path) with the value of any `token` query parameter replaced. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]token=)[^&#]*/gi, `$1${REDACTED}`);
}

/** The message of anything thrown, for a log field. */
export function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
