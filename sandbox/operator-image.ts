// An ImageHandler that runs containers of the operator's image (`emqx-operator[:tag]`, any registry) as the real
// program from this working tree, as the image would: `sh bin/entrypoint.sh <args>` (the Dockerfile's ENTRYPOINT:
// the Node flags and the heap cap from EMQX_OPERATOR_MEMORY_LIMIT_MIB, then bin/emqx-operator.js), no image build. What a container runtime would give it is given for real:
//  - its host name (the pod's, in a UTS namespace of its own) and its volumes at their mount paths, in a mount
//    namespace of its own (`unshare --mount --uts`; `exec` enters both with nsenter; the ServiceAccount
//    token, CA bundle and namespace appear at /var/run/secrets/kubernetes.io/serviceaccount). Like a container, it
//    gets a fresh /run (a tmpfs) rather than the host's;
//  - its user: runAsUser/runAsGroup of the security context, else the image's USER 65532 (`setpriv`);
//  - the network namespace is emulated: a bind to 0.0.0.0 or [::] (all of the pod's addresses) binds the pod IP;
//  - its environment: exactly the container's (plus PATH), so KUBERNETES_SERVICE_HOST/PORT from the kubelet
//    emulator lead it to the API server and it uses in-cluster configuration.
// Mount namespaces and changing user need root (CAP_SYS_ADMIN, CAP_SETUID); without them the container fails to
// start with a message saying so.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { ContainerContext, ExecResult, ImageHandler, RunningContainer } from './kubelet/handler.ts';
import { expand } from './kubelet/env.ts';
import { operatorAppDir } from './operator-build.ts';

/** The repository name of the operator's image (charts/emqx-operator values image.repository). */
export const OPERATOR_IMAGE_NAME = 'emqx-operator';
/** The Dockerfile's `USER`. */
const IMAGE_USER = 65532;

/** `emqx-operator`, `emqx-operator:0.1.0`, `registry:5000/team/emqx-operator@sha256:...` */
export function isOperatorImage(image: string): boolean {
  const noDigest = image.split('@')[0]!;
  const last = noDigest.split('/').pop() ?? '';
  return last.split(':')[0] === OPERATOR_IMAGE_NAME;
}

/** The container's args with `$(VAR)` expanded and all-address binds turned into the pod IP. */
export function containerArgs(ctx: Pick<ContainerContext, 'container' | 'env' | 'podIP'>): string[] {
  const args = ctx.container.args ?? ['run'];
  return args
    .map((a) => expand(a, (n) => ctx.env[n]))
    .map((a) =>
      a.replace(
        /(^|=)(0\.0\.0\.0|\[::\]|)(:\d+)$/,
        (_m, pre: string, _h, port: string) => `${pre}${ctx.podIP}${port}`,
      ),
    );
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The shell script that sets up the mount namespace, then execs the program ("$@"). */
export function mountScript(mounts: NonNullable<ContainerContext['mounts']>, hostname?: string): string {
  const lines = ['set -e'];
  if (hostname) lines.push(`hostname ${shellQuote(hostname)}`);
  const underRun = (p: string) => /^\/(var\/)?run(\/|$)/.test(p);
  if (mounts.some((m) => underRun(m.mountPath)))
    lines.push('mount -t tmpfs -o mode=0755,size=4m pod-run /run');
  for (const m of [...mounts].sort((a, b) => a.mountPath.length - b.mountPath.length)) {
    const target = m.mountPath.replace(/^\/var\/run(\/|$)/, '/run$1');
    if (underRun(target)) lines.push(`mkdir -p ${shellQuote(target)}`);
    else
      lines.push(
        `[ -e ${shellQuote(target)} ] || { echo "mount path ${target} does not exist in this emulated image" >&2; exit 1; }`,
      );
    lines.push(`mount --bind ${shellQuote(m.hostPath)} ${shellQuote(target)}`);
    if (m.readOnly) lines.push(`mount -o remount,bind,ro ${shellQuote(target)}`);
  }
  lines.push('exec "$@"');
  return lines.join('\n');
}

function exitCode(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2 }[signal as string] ?? 1;
  return 128 + n;
}

export function createOperatorHandler(opts: { nodePath?: string } = {}): ImageHandler {
  const node = opts.nodePath ?? process.execPath;
  return {
    name: 'emqx-operator',
    matches: isOperatorImage,
    async start(ctx): Promise<RunningContainer> {
      const command = ctx.container.command;
      if (
        command &&
        command.length > 0 &&
        !['node', 'sh', 'bin/emqx-operator.js', 'bin/entrypoint.sh'].includes(command[0]!)
      ) {
        ctx.log(
          `${command[0]}: not found in the emqx-operator image (only node, sh, bin/emqx-operator.js and bin/entrypoint.sh)`,
        );
        return {
          exited: Promise.resolve(127),
          exec: async () => ({ exitCode: 127, stdout: '', stderr: '' }),
          stop: async () => {},
        };
      }
      const program = ['sh', 'bin/entrypoint.sh', ...containerArgs(ctx)];
      const sc = ctx.container.securityContext;
      const psc = ctx.pod.spec?.securityContext;
      const uid = sc?.runAsUser ?? psc?.runAsUser ?? IMAGE_USER;
      const gid = sc?.runAsGroup ?? psc?.runAsGroup ?? IMAGE_USER;
      const asUser = ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--'];
      // A change of user clears the parent-death signal, so the program's own setpriv sets it again: the
      // operator dies with the sandbox process even when that is SIGKILLed (as the control plane's processes do).
      const asUserDying = [...asUser.slice(0, -1), '--pdeathsig', 'SIGKILL', '--'];
      const mounts = ctx.mounts ?? [];
      const argv = [
        'setpriv',
        '--pdeathsig',
        'SIGKILL',
        '--',
        'unshare',
        '--mount',
        '--uts',
        '--propagation',
        'private',
        '--',
        'sh',
        '-c',
        mountScript(mounts, (ctx.pod.spec?.hostname ?? ctx.pod.metadata?.name ?? '').slice(0, 63)),
        'sh',
        ...asUserDying,
        ...program,
      ];
      ctx.log(`starting: ${program.slice(1).join(' ')} (uid ${uid}, ${mounts.length} mounts)`);
      const child: ChildProcess = spawn(argv[0]!, argv.slice(1), {
        cwd: operatorAppDir(), // the image's /app: the sources, or `npm run build`'s output (./operator-build.ts)
        // `node` on PATH is this Node 24, as in the image (the entry point runs `node`).
        env: { ...ctx.env, PATH: `${path.dirname(node)}:${process.env.PATH ?? '/usr/bin:/bin'}` },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const lines = (stream: NodeJS.ReadableStream) => {
        let buf = '';
        stream.setEncoding('utf8');
        stream.on('data', (d: string) => {
          buf += d;
          let i;
          while ((i = buf.indexOf('\n')) >= 0) {
            ctx.log(buf.slice(0, i));
            buf = buf.slice(i + 1);
          }
        });
        stream.on('end', () => buf && ctx.log(buf));
      };
      lines(child.stdout!);
      lines(child.stderr!);
      const exited = new Promise<number>((resolve) => {
        child.once('error', (e) => {
          ctx.log(`could not start: ${e.message}`);
          resolve(128);
        });
        child.once('exit', (code, signal) => resolve(exitCode(code, signal)));
      });
      const alive = () => child.exitCode === null && child.signalCode === null;
      return {
        exited,
        async stop({ graceful }) {
          if (alive()) child.kill(graceful ? 'SIGTERM' : 'SIGKILL');
          await exited;
        },
        exec(cmd: string[], timeoutMs: number): Promise<ExecResult> {
          // Inside the container's mount namespace, as its user.
          return new Promise((resolve) => {
            if (!alive() || !child.pid) {
              resolve({ exitCode: 126, stdout: '', stderr: 'container not running' });
              return;
            }
            const p = spawn(
              'nsenter',
              [`--target=${child.pid}`, '--mount', '--uts', '--', ...asUser, ...cmd],
              {
                cwd: operatorAppDir(),
                env: { ...ctx.env, PATH: process.env.PATH ?? '/usr/bin:/bin' },
                timeout: timeoutMs,
              },
            );
            let stdout = '';
            let stderr = '';
            p.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
            p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
            p.once('error', (e) => resolve({ exitCode: 127, stdout, stderr: e.message }));
            p.once('exit', (code, signal) => resolve({ exitCode: exitCode(code, signal), stdout, stderr }));
          });
        },
      };
    },
  };
}
