// `exec` inside an emulated EMQX container: `emqx ctl …` (also `/opt/emqx/bin/emqx ctl …` and `emqx_ctl …`),
// `emqx ping`, and `sh -c "…"` / `bash -c "…"` with a tiny shell (`;`, `&&`, `||`, `true`, `false`, `echo`,
// `exit N`). Anything else exits 127.
import type { ExecResult } from '../kubelet/handler.ts';
import type { EmqxNode } from './node.ts';

const SHELLS = new Set(['sh', '/bin/sh', 'bash', '/bin/bash', '/usr/bin/bash', '/usr/bin/sh']);
const EMQX_BINS = new Set(['emqx', '/opt/emqx/bin/emqx', 'bin/emqx', './bin/emqx']);
const CTL_BINS = new Set(['emqx_ctl', '/opt/emqx/bin/emqx_ctl', 'bin/emqx_ctl', './bin/emqx_ctl']);

function out(stdout: string, exitCode = 0, stderr = ''): ExecResult {
  return { exitCode, stdout, stderr };
}

/** Splits a shell command line into commands joined by `;`, `&&`, `||`, honouring simple quotes. */
function parseShell(line: string): Array<{ words: string[]; op: ';' | '&&' | '||' }> {
  const cmds: Array<{ words: string[]; op: ';' | '&&' | '||' }> = [];
  let words: string[] = [];
  let cur: string | undefined;
  let op: ';' | '&&' | '||' = ';';
  const flushWord = (): void => {
    if (cur !== undefined) words.push(cur);
    cur = undefined;
  };
  const flushCmd = (next: ';' | '&&' | '||'): void => {
    flushWord();
    if (words.length > 0) cmds.push({ words, op });
    words = [];
    op = next;
  };
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === "'" || ch === '"') {
      const end = line.indexOf(ch, i + 1);
      const stop = end < 0 ? line.length : end;
      cur = (cur ?? '') + line.slice(i + 1, stop);
      i = stop;
    } else if (ch === '\\' && i + 1 < line.length) {
      cur = (cur ?? '') + line[++i];
    } else if (ch === ';' || ch === '\n') {
      flushCmd(';');
    } else if (ch === '&' && line[i + 1] === '&') {
      flushCmd('&&');
      i++;
    } else if (ch === '|' && line[i + 1] === '|') {
      flushCmd('||');
      i++;
    } else if (/\s/.test(ch)) {
      flushWord();
    } else {
      cur = (cur ?? '') + ch;
    }
  }
  flushCmd(';');
  return cmds;
}

export async function runExec(node: EmqxNode, command: string[]): Promise<ExecResult> {
  if (command.length === 0) return out('', 127, 'exec: no command\n');
  const [bin, ...args] = command as [string, ...string[]];
  if (SHELLS.has(bin)) {
    const ci = args.indexOf('-c');
    if (ci < 0 || args[ci + 1] === undefined)
      return out('', 127, `${bin}: interactive shells are not emulated\n`);
    let stdout = '';
    let stderr = '';
    let code = 0;
    for (const { words, op } of parseShell(args[ci + 1]!)) {
      if (op === '&&' && code !== 0) continue;
      if (op === '||' && code === 0) continue;
      const [w0, ...rest] = words as [string, ...string[]];
      if (w0 === 'exit') return out(stdout, Number(rest[0] ?? code) || 0, stderr);
      const r = await runCommand(node, words);
      stdout += r.stdout;
      stderr += r.stderr;
      code = r.exitCode;
    }
    return out(stdout, code, stderr);
  }
  return runCommand(node, command);
}

async function runCommand(node: EmqxNode, words: string[]): Promise<ExecResult> {
  const [bin, ...args] = words as [string, ...string[]];
  if (bin === 'true') return out('');
  if (bin === 'false') return out('', 1);
  if (bin === 'echo') return out(`${args.join(' ')}\n`);
  if (EMQX_BINS.has(bin)) {
    if (args[0] === 'ctl') return ctl(node, args.slice(1));
    if (args[0] === 'ping') return node.status === 'exited' ? notResponding(node) : out('pong\n');
    return out('', 1, `emqx: '${args[0] ?? ''}' is not emulated\n`);
  }
  if (CTL_BINS.has(bin)) return ctl(node, args);
  return out('', 127, `sh: ${bin}: not found\n`);
}

function notResponding(node: EmqxNode): ExecResult {
  return out('', 1, `Node '${node.name}' not responding to pings.\n`);
}

function clusterStatus(node: EmqxNode): string {
  const running = node.runningNodes().map((n) => `'${n.name}'`);
  const stopped = node.stoppedCores().map((n) => `'${n}'`);
  return `Cluster status: #{running_nodes => [${running.join(',')}],stopped_nodes => [${stopped.join(',')}]}\n`;
}

function ctl(node: EmqxNode, args: string[]): ExecResult {
  if (node.status === 'exited' || node.status === 'stopping') return notResponding(node);
  const [cmd, sub, arg] = args;
  if (cmd === 'status' || cmd === undefined) {
    const app = node.status === 'running' ? 'running' : 'not_running';
    return out(`Node '${node.name}' ${node.image.version} is started\nemqx is ${app}\n`);
  }
  if (cmd === 'cluster') {
    if (sub === 'status' || sub === undefined) return out(clusterStatus(node));
    if (sub === 'leave') {
      const r = node.leave();
      if ('ok' in r) return out(`Leave the cluster successfully.\n${clusterStatus(node)}`);
      return out(`Failed to leave the cluster: ${r.error}\n`);
    }
    if (sub === 'force-leave' && arg) {
      const r = node.forceLeave(arg);
      if ('ok' in r) return out(`Remove the node from cluster successfully.\n${clusterStatus(node)}`);
      return out(`Failed to remove the node from cluster: ${r.error}\n`);
    }
    if (sub === 'join' && arg) {
      const peer = node.fabric.byName(arg);
      const r = peer ? node.join(peer, { auto: false }) : { error: `{node_down,'${arg}'}` };
      if ('ok' in r) return out(`Join the cluster successfully.\n${clusterStatus(node)}`);
      return out(`Failed to join the cluster: ${r.error}\n`);
    }
    return out(
      'cluster join <Node>                  # Join the cluster\n' +
        'cluster leave                        # Leave the cluster\n' +
        'cluster force-leave <Node>           # Force the node leave from cluster\n' +
        'cluster status [--json]              # Cluster status\n',
    );
  }
  if (cmd === 'ping') return out('pong\n');
  return out('', 1, `Command '${cmd}' is not emulated\n`);
}
