// Child processes of the sandbox (etcd, kube-apiserver, kube-controller-manager): output to a log file, a clean
// stop (SIGTERM, SIGKILL after a grace period), and a process-wide registry so that nothing outlives us.
//
// Three layers keep processes from being orphaned:
//  - stop() from the owner (normal path);
//  - SIGINT/SIGTERM handlers and an 'exit' hook that SIGKILL every child still registered (crashes, failed tests);
//  - on Linux, children are started through `setpriv --pdeathsig SIGKILL`, so the kernel kills them even when this
//    process is SIGKILLed itself.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs` (default 5000). Resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<ChildProcess>();
let hooksInstalled = false;

function killAllNow(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

/** SIGTERM to every child still running (newest first, one after the other), SIGKILL after `graceMs` each. */
export async function stopAll(graceMs = 5000): Promise<void> {
  for (const child of [...live].reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }
}

const cleanups = new Set<() => Promise<void>>();

/**
 * Registers a graceful shutdown (e.g. a sandbox's stop()) to run when the process gets SIGINT/SIGTERM that nobody
 * else handles. Returns a function that unregisters it.
 */
export function onUnhandledSignal(cleanup: () => Promise<void>): () => void {
  installHooks();
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      // Only the last resort: when someone else (the CLI, the test runner) handles the signal, it stops things
      // itself. With no other listener Node would no longer exit on the signal, so we stop everything and exit.
      if (process.listenerCount(signal) > 1) return;
      const code = signal === 'SIGINT' ? 130 : 143;
      void (async () => {
        for (const c of [...cleanups]) await c().catch(() => {});
        await stopAll();
      })().finally(() => process.exit(code));
    });
  }
}

const pdeathsig = process.platform === 'linux' && existsSync('/usr/bin/setpriv');

/** Starts `binary args` with stdout and stderr appended to `logFile`. */
export function startProcess(name: string, binary: string, args: string[], logFile: string): ManagedProcess {
  installHooks();
  const fd = openSync(logFile, 'a');
  const [cmd, argv] = pdeathsig
    ? ['/usr/bin/setpriv', ['--pdeathsig', 'SIGKILL', '--', binary, ...args]]
    : [binary, args];
  let child: ChildProcess;
  try {
    child = spawn(cmd, argv, { stdio: ['ignore', fd, fd], detached: false });
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) throw new Error(`${name}: could not start ${binary}`);
  live.add(child);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve(code ?? signal ?? -1);
    });
    child.once('error', () => {
      live.delete(child);
      resolve(-1);
    });
  });
  return {
    name,
    pid: child.pid,
    logFile,
    exited,
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
