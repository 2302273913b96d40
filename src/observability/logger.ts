// Structured JSON logs on stderr: one object per line, `{"level":"info","time":"<ISO 8601>",...fields,"msg"}`,
// written by pino (https://getpino.io). Every field and the message first go through the shared redaction
// (./redact.ts): by key and by value (registered secrets are masked wherever they appear), which pino's own
// path-based `redact` option cannot do; so a cookie or API secret passed by mistake never reaches the output.

import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import { redact, redactText } from './redact.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface Logger {
  readonly level: LogLevel;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** True when a message at `level` would be written (to skip building expensive fields). */
  enabled(level: LogLevel): boolean;
  /** A logger that adds `fields` to every line (the child's own fields win over the parent's). */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  /** Lowest level written; default `info`. */
  level?: LogLevel;
  /** Where each finished line (without the newline) goes; default: stderr. */
  sink?: (line: string) => void;
  /** Fields on every line. */
  fields?: LogFields;
  /** For tests. */
  now?: () => Date;
  /** Include stack traces of Error values (default true for `error` level lines only). */
  stacks?: boolean;
}

export function parseLogLevel(value: string | undefined, fallback: LogLevel = 'info'): LogLevel {
  if (value === undefined || value === '') return fallback;
  const v = value.toLowerCase();
  if (v === 'warning') return 'warn';
  if ((LOG_LEVELS as readonly string[]).includes(v)) return v as LogLevel;
  throw new Error(`log level: "${value}" is not one of ${LOG_LEVELS.join(', ')}`);
}

const RESERVED = new Set(['level', 'time', 'msg']);

/** Fields as written: redacted, `undefined` dropped, reserved names prefixed with `field.`. */
function prepare(fields: LogFields, stack: boolean): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(redact(fields, { stack }) as LogFields)) {
    if (v === undefined) continue;
    out[RESERVED.has(k) ? `field.${k}` : k] = v;
  }
  return out;
}

function pinoFor(opts: LoggerOptions): PinoLogger {
  const sink = opts.sink;
  const now = opts.now;
  const destination: DestinationStream = sink
    ? { write: (s: string) => sink(s.endsWith('\n') ? s.slice(0, -1) : s) }
    : // synchronous writes: a line is out before the next statement runs, also on a crash or process.exit
      pino.destination({ fd: 2, sync: true });
  return pino(
    {
      level: opts.level ?? 'info',
      base: undefined, // no pid / hostname on every line
      timestamp: now ? () => `,"time":"${now().toISOString()}"` : pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // fields arrive already redacted and serialised (Errors as plain objects, see ./redact.ts)
      serializers: { err: (e: unknown) => e },
    },
    destination,
  );
}

class JsonLogger implements Logger {
  private readonly pino: PinoLogger;
  private readonly fields: LogFields;
  private readonly stacks: boolean | undefined;

  constructor(p: PinoLogger, fields: LogFields, stacks: boolean | undefined) {
    this.pino = p;
    this.fields = fields;
    this.stacks = stacks;
  }

  get level(): LogLevel {
    return this.pino.level as LogLevel;
  }

  enabled(level: LogLevel): boolean {
    return this.pino.isLevelEnabled(level);
  }

  debug(msg: string, fields?: LogFields): void {
    this.write('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.write('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.write('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.write('error', msg, fields);
  }

  // The child keeps its fields itself rather than as pino bindings: merged per line, the child's value replaces
  // the parent's instead of both appearing in the line, and bindings go through the same redaction.
  child(fields: LogFields): Logger {
    return new JsonLogger(this.pino, { ...this.fields, ...fields }, this.stacks);
  }

  private write(level: LogLevel, msg: string, fields: LogFields | undefined): void {
    if (!this.pino.isLevelEnabled(level)) return;
    const stack = this.stacks ?? level === 'error';
    this.pino[level](prepare({ ...this.fields, ...fields }, stack), redactText(String(msg)));
  }
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  return new JsonLogger(pinoFor(opts), opts.fields ?? {}, opts.stacks);
}

/** A logger that drops everything (default for library code when the caller passes none). */
export const nullLogger: Logger = createLogger({ level: 'error', sink: () => {} });
