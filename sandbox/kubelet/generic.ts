// The handler for every image no other handler claims (busybox, nginx, ...). Such a container "just runs":
//  - it listens on each declared TCP containerPort on the pod IP and answers HTTP 200 "ok" to any request;
//    while the container path named by env SANDBOX_HTTP_FAIL_IF_EXISTS exists (through the container's mounts),
//    it answers 503 instead: tests flip an HTTP probe by creating/removing that file (e.g. a ConfigMap key);
//  - exec understands a tiny shell (see `runScript`), against the container's mounted paths;
//  - if its command (command + args) is made only of commands that tiny shell knows (`sh -c "exit 3"`, `true`,
//    `sleep 5`), it runs it and exits with its code; any other command, or none, runs until stopped.
//    An init container (not a native sidecar) runs a command the tiny shell knows; any other exits 0 at once.
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { ContainerContext, ExecResult, ImageHandler, RunningContainer } from './handler.ts';

export const FAIL_IF_EXISTS_ENV = 'SANDBOX_HTTP_FAIL_IF_EXISTS';

interface ShellFs {
  hostPath(containerPath: string): string | undefined;
}

/** Splits a shell command line into words, honouring single and double quotes and backslashes. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

type Op = ';' | '&&' | '||';

/** Splits a script into simple commands joined by `;`, `&&`, `||` or newlines (outside quotes). */
export function splitScript(script: string): Array<{ op: Op; words: string[] }> {
  const parts: Array<{ op: Op; words: string[] }> = [];
  let cur = '';
  let op: Op = ';';
  let quote: string | undefined;
  const push = (next: Op) => {
    const words = splitWords(cur);
    if (words.length > 0) parts.push({ op, words });
    cur = '';
    op = next;
  };
  for (let i = 0; i < script.length; i++) {
    const c = script[i];
    if (quote) {
      if (c === quote) quote = undefined;
      cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      cur += c;
    } else if (c === '&' && script[i + 1] === '&') {
      push('&&');
      i++;
    } else if (c === '|' && script[i + 1] === '|') {
      push('||');
      i++;
    } else if (c === ';' || c === '\n') {
      push(';');
    } else {
      cur += c;
    }
  }
  push(';');
  return parts;
}

const KNOWN = new Set([
  'true',
  'false',
  ':',
  'exit',
  'test',
  '[',
  'cat',
  'echo',
  'sleep',
  'touch',
  'rm',
  'mkdir',
  'ls',
]);
const SHELLS = new Set(['sh', '/bin/sh', 'bash', '/bin/bash', '/usr/bin/bash', '/usr/bin/sh']);

/** True when every simple command of `argv` is one the tiny shell implements. */
export function understood(argv: string[]): boolean {
  if (argv.length === 0) return false;
  if (SHELLS.has(argv[0])) {
    if (argv[1] !== '-c' || argv[2] === undefined) return false;
    const parts = splitScript(argv[2]);
    return parts.length > 0 && parts.every((p) => KNOWN.has(path.posix.basename(p.words[0])));
  }
  return KNOWN.has(path.posix.basename(argv[0]));
}

interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
  exited?: boolean;
}

function resolvePath(fs: ShellFs, p: string): string | undefined {
  return fs.hostPath(p.startsWith('/') ? p : '/' + p);
}

async function simple(words: string[], fs: ShellFs, signal: AbortSignal): Promise<Run> {
  const [cmd0, ...args] = words;
  const cmd = path.posix.basename(cmd0);
  const ok = (stdout = ''): Run => ({ exitCode: 0, stdout, stderr: '' });
  const err = (code: number, stderr: string): Run => ({ exitCode: code, stdout: '', stderr: stderr + '\n' });
  switch (cmd) {
    case 'true':
    case ':':
      return ok();
    case 'false':
      return err(1, '');
    case 'exit':
      return { exitCode: Number(args[0] ?? 0) & 255, stdout: '', stderr: '', exited: true };
    case 'echo':
      return ok(args.join(' ') + '\n');
    case 'sleep': {
      const secs = args[0] === 'infinity' ? Infinity : Number(args[0]);
      if (!Number.isFinite(secs) && secs !== Infinity)
        return err(1, `sleep: invalid time interval '${args[0]}'`);
      await new Promise<void>((resolve) => {
        const t = secs === Infinity ? undefined : setTimeout(resolve, secs * 1000);
        signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
      });
      return ok();
    }
    case 'test':
    case '[': {
      const a = cmd === '[' ? args.slice(0, args[args.length - 1] === ']' ? -1 : undefined) : args;
      let negate = false;
      if (a[0] === '!') {
        negate = true;
        a.shift();
      }
      let result: boolean;
      if (a.length === 2 && /^-[efdsr]$/.test(a[0])) {
        const host = resolvePath(fs, a[1]);
        const st = host && existsSync(host) ? statSync(host) : undefined;
        result =
          a[0] === '-f'
            ? !!st?.isFile()
            : a[0] === '-d'
              ? !!st?.isDirectory()
              : a[0] === '-s'
                ? !!st && st.size > 0
                : !!st;
      } else if (a.length === 3 && (a[1] === '=' || a[1] === '!=')) {
        result = (a[0] === a[2]) === (a[1] === '=');
      } else if (a.length === 1) {
        result = a[0] !== '';
      } else {
        return err(2, `test: unsupported expression: ${a.join(' ')}`);
      }
      return result !== negate ? ok() : err(1, '');
    }
    case 'cat': {
      let out = '';
      for (const p of args) {
        const host = resolvePath(fs, p);
        if (!host || !existsSync(host) || !statSync(host).isFile())
          return err(1, `cat: ${p}: No such file or directory`);
        out += readFileSync(host, 'utf8');
      }
      return ok(out);
    }
    case 'ls': {
      const host = resolvePath(fs, args.find((a) => !a.startsWith('-')) ?? '/');
      if (!host || !existsSync(host)) return err(2, `ls: cannot access: No such file or directory`);
      return ok(
        statSync(host).isDirectory()
          ? readdirSync(host).sort().join('\n') + '\n'
          : path.basename(host) + '\n',
      );
    }
    case 'touch':
    case 'mkdir':
    case 'rm': {
      for (const p of args.filter((a) => !a.startsWith('-'))) {
        const host = resolvePath(fs, p);
        if (!host) return err(1, `${cmd}: ${p}: Read-only file system`);
        if (cmd === 'touch') {
          if (!existsSync(host)) writeFileSync(host, '');
        } else if (cmd === 'mkdir') {
          mkdirSync(host, { recursive: args.includes('-p') });
        } else {
          if (!existsSync(host) && !args.some((a) => /^-\w*f/.test(a)))
            return err(1, `rm: ${p}: No such file`);
          rmSync(host, { recursive: args.some((a) => /^-\w*r/i.test(a)), force: true });
        }
      }
      return ok();
    }
    default:
      return err(127, `${cmd0}: not found`);
  }
}

/**
 * The tiny shell: `true`, `false`, `:`, `exit N`, `echo`, `sleep N|infinity`, `test`/`[` with -e -f -d -s -r and
 * string (in)equality, `cat`, `ls`, `touch`, `mkdir [-p]`, `rm [-rf]`, joined by `;`, `&&`, `||`; either given
 * directly (`["test", "-f", "/x"]`) or through `sh -c "..."` / `bash -c`. Paths go through the container's mounts.
 * Anything else exits 127.
 */
export async function runScript(argv: string[], fs: ShellFs, signal: AbortSignal): Promise<ExecResult> {
  if (argv.length === 0) return { exitCode: 127, stdout: '', stderr: 'no command\n' };
  let parts: Array<{ op: Op; words: string[] }>;
  if (SHELLS.has(argv[0])) {
    if (argv[1] !== '-c' || argv[2] === undefined)
      return { exitCode: 2, stdout: '', stderr: 'only sh -c is supported\n' };
    parts = splitScript(argv[2]);
  } else {
    parts = [{ op: ';', words: argv }];
  }
  let last: Run = { exitCode: 0, stdout: '', stderr: '' };
  let stdout = '';
  let stderr = '';
  for (const part of parts) {
    if (part.op === '&&' && last.exitCode !== 0) continue;
    if (part.op === '||' && last.exitCode === 0) continue;
    if (signal.aborted) break;
    last = await simple(part.words, fs, signal);
    stdout += last.stdout;
    stderr += last.stderr;
    if (last.exited) break;
  }
  return { exitCode: last.exitCode, stdout, stderr };
}

export const genericHandler: ImageHandler = {
  name: 'generic',
  matches: () => true,
  async start(ctx: ContainerContext): Promise<RunningContainer> {
    const fs: ShellFs = { hostPath: (p) => ctx.hostPath(p) };
    const failFile = ctx.env[FAIL_IF_EXISTS_ENV];
    const servers: http.Server[] = [];
    const abort = new AbortController();
    let resolveExit!: (code: number) => void;
    const exited = new Promise<number>((r) => (resolveExit = r));

    for (const p of ctx.container.ports ?? []) {
      if ((p.protocol ?? 'TCP') !== 'TCP') continue;
      const server = http.createServer((req, res) => {
        const host = failFile ? ctx.hostPath(failFile) : undefined;
        const failing = host !== undefined && existsSync(host);
        res.writeHead(failing ? 503 : 200, { 'Content-Type': 'text/plain' });
        res.end(failing ? `failing: ${failFile} exists\n` : 'ok\n');
      });
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(p.containerPort, ctx.podIP, () => resolve());
        });
      } catch (e) {
        for (const s of servers) s.close();
        ctx.log(`cannot listen on ${ctx.podIP}:${p.containerPort}: ${(e as Error).message}`);
        throw e;
      }
      server.on('error', (e) => ctx.log(`server error: ${e.message}`));
      servers.push(server);
    }
    const closeServers = () => {
      for (const s of servers) {
        s.close();
        s.closeAllConnections();
      }
    };

    const argv = [...(ctx.container.command ?? []), ...(ctx.container.args ?? [])];
    const initContainer =
      ctx.container.restartPolicy !== 'Always' &&
      (ctx.pod.spec?.initContainers ?? []).some((c) => c.name === ctx.container.name);
    if (initContainer && !understood(argv)) {
      ctx.log(`init container ${JSON.stringify(argv)}: not emulated, exits 0`);
      setImmediate(() => {
        closeServers();
        resolveExit(0);
      });
    } else if (understood(argv)) {
      ctx.log(`running ${JSON.stringify(argv)}`);
      void runScript(argv, fs, abort.signal).then((r) => {
        if (r.stdout) ctx.log(r.stdout.trimEnd());
        if (r.stderr) ctx.log(r.stderr.trimEnd());
        if (abort.signal.aborted) return;
        closeServers();
        resolveExit(r.exitCode);
      });
    } else {
      ctx.log(`started (generic image ${ctx.container.image}); listening on ${servers.length} port(s)`);
    }

    return {
      exited,
      exec: async (command, timeoutMs) => {
        const ac = new AbortController();
        const timer = setTimeout(() => ac.abort(), timeoutMs);
        try {
          const r = await runScript(command, fs, ac.signal);
          return ac.signal.aborted ? { exitCode: 137, stdout: r.stdout, stderr: 'command timed out\n' } : r;
        } finally {
          clearTimeout(timer);
        }
      },
      stop: async () => {
        abort.abort();
        closeServers();
      },
    };
  },
};
