// Structured JSON logs: one object per line, `{"level","time","msg",...fields}`. Every field and the message go
// through the shared redaction (./redact.ts), so a cookie or API secret passed by mistake never reaches the output.

import { redact, redactText } from './redact.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

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

class JsonLogger implements Logger {
  readonly level: LogLevel;
  private readonly sink: (line: string) => void;
  private readonly fields: LogFields;
  private readonly now: () => Date;
  private readonly stacks: boolean | undefined;

  constructor(opts: LoggerOptions) {
    this.level = opts.level ?? 'info';
    this.sink = opts.sink ?? ((line) => process.stderr.write(line + '\n'));
    this.fields = opts.fields ?? {};
    this.now = opts.now ?? (() => new Date());
    this.stacks = opts.stacks;
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] >= RANK[this.level];
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

  child(fields: LogFields): Logger {
    return new JsonLogger({
      level: this.level,
      sink: this.sink,
      now: this.now,
      stacks: this.stacks,
      fields: { ...this.fields, ...fields },
    });
  }

  private write(level: LogLevel, msg: string, fields: LogFields | undefined): void {
    if (!this.enabled(level)) return;
    const stack = this.stacks ?? level === 'error';
    const merged = redact({ ...this.fields, ...fields }, { stack }) as LogFields;
    const record: LogFields = { level, time: this.now().toISOString(), msg: redactText(String(msg)) };
    for (const [k, v] of Object.entries(merged)) {
      if (v === undefined) continue;
      record[RESERVED.has(k) ? `field.${k}` : k] = v;
    }
    let line: string;
    try {
      line = JSON.stringify(record);
    } catch (err) {
      line = JSON.stringify({ level, time: record.time, msg: record.msg, logError: String(err) });
    }
    this.sink(line);
  }
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  return new JsonLogger(opts);
}

/** A logger that drops everything (default for library code when the caller passes none). */
export const nullLogger: Logger = createLogger({ level: 'error', sink: () => {} });
