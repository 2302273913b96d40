import assert from 'node:assert/strict';
import { test } from 'node:test';
import { containerArgs, isOperatorImage, mountScript } from './operator-image.ts';

test('the operator image by repository name, with any registry, tag or digest', () => {
  for (const i of ['emqx-operator', 'emqx-operator:0.1.1', 'reg:5000/team/emqx-operator:1@sha256:ab'])
    assert.ok(isOperatorImage(i), i);
  for (const i of ['emqx/emqx:5.8.3', 'emqx-operator-x:1', 'reg:5000/emqx-operator-helper'])
    assert.ok(!isOperatorImage(i), i);
});

test('args: $(VAR) expanded, binds to every address of the pod become its IP, others untouched', () => {
  const args = containerArgs({
    podIP: '127.1.2.3',
    env: { NS: 'ops' },
    container: {
      name: 'operator',
      args: [
        'run',
        '--health-bind-address=0.0.0.0:8081',
        '--metrics-bind-address=:8080',
        '--webhook-bind-address=[::]:9443',
        '--leader-election-namespace=$(NS)',
        '--webhook-url=https://0.0.0.0:1/x',
        '127.0.0.1:5',
      ],
    },
  });
  assert.deepEqual(args, [
    'run',
    '--health-bind-address=127.1.2.3:8081',
    '--metrics-bind-address=127.1.2.3:8080',
    '--webhook-bind-address=127.1.2.3:9443',
    '--leader-election-namespace=ops',
    '--webhook-url=https://0.0.0.0:1/x',
    '127.0.0.1:5',
  ]);
  assert.deepEqual(containerArgs({ podIP: '127.1.2.3', env: {}, container: { name: 'c' } }), ['run']);
});

test('mount script: host name, a fresh /run for mounts under /var/run, binds (read-only when asked), then exec', () => {
  const s = mountScript(
    [
      {
        mountPath: '/var/run/secrets/kubernetes.io/serviceaccount',
        hostPath: "/sb/pods/a'b/token",
        readOnly: true,
      },
      { mountPath: '/tmp', hostPath: '/sb/pods/x/tmp', readOnly: false },
    ],
    'op-0',
  ).split('\n');
  assert.deepEqual(s, [
    'set -e',
    "hostname 'op-0'",
    'mount -t tmpfs -o mode=0755,size=4m pod-run /run',
    `[ -e '/tmp' ] || { echo "mount path /tmp does not exist in this emulated image" >&2; exit 1; }`,
    "mount --bind '/sb/pods/x/tmp' '/tmp'",
    "mkdir -p '/run/secrets/kubernetes.io/serviceaccount'",
    `mount --bind '/sb/pods/a'\\''b/token' '/run/secrets/kubernetes.io/serviceaccount'`,
    "mount -o remount,bind,ro '/run/secrets/kubernetes.io/serviceaccount'",
    'exec "$@"',
  ]);
});
