// Integration tests of the sandbox itself: a real kube-apiserver + kube-controller-manager, and the kubelet
// emulator running pods on 127.1.0.0/16.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1Pod, V1PodList } from '@kubernetes/client-node';
import { CONTENT_TYPE } from '../sandbox/kubelet/api.ts';
import type { ImageHandler } from '../sandbox/kubelet/handler.ts';
import { DEFAULT_CLAIMS_DIR, inPodRange } from '../sandbox/kubelet/ipam.ts';
import { KUBECTL, useSandbox } from './support/sandbox.ts';

// A handler that ignores graceful stops (like a process ignoring SIGTERM): only the grace period ends it.
const stopCalls: Array<{ pod: string; graceful: boolean; at: number }> = [];
const stubborn: ImageHandler = {
  name: 'stubborn',
  matches: (image) => image.startsWith('sandbox.test/stubborn'),
  async start(ctx) {
    return {
      exited: new Promise<number>(() => {}),
      exec: async () => ({ exitCode: 0, stdout: '', stderr: '' }),
      stop: ({ graceful }) => {
        stopCalls.push({ pod: ctx.pod.metadata!.name!, graceful, at: Date.now() });
        return graceful ? new Promise<void>(() => {}) : Promise.resolve();
      },
    };
  },
};

const sb = useSandbox({ handlers: [stubborn] });
const ROOT = path.resolve(import.meta.dirname, '..');

const isReady = (p: V1Pod) =>
  p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

async function pods(ns: string, selector?: string): Promise<V1Pod[]> {
  const list = await sb.api.get<V1PodList>(`/api/v1/namespaces/${ns}/pods`, { labelSelector: selector });
  return list.items;
}

async function pod(ns: string, name: string): Promise<V1Pod> {
  return sb.api.get<V1Pod>(`/api/v1/namespaces/${ns}/pods/${name}`);
}

function statefulSet(name: string, replicas: number, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name },
    spec: {
      replicas,
      serviceName: name,
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 5,
          containers: [
            {
              name: 'main',
              image: 'busybox:1.36',
              ports: [{ name: 'http', containerPort: 8080 }],
              readinessProbe: { httpGet: { port: 'http', path: '/' }, periodSeconds: 1 },
              volumeMounts: [{ name: 'data', mountPath: '/data' }],
            },
          ],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: 'data' },
          spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
        },
      ],
      ...extra,
    },
  };
}

async function readyPods(ns: string, selector: string, count: number, timeoutMs = 30_000): Promise<V1Pod[]> {
  return sb.waitFor(
    `${count} Running+Ready pods (${selector}) in ${ns}`,
    async () => {
      const ps = (await pods(ns, selector)).filter((p) => !p.metadata?.deletionTimestamp);
      return ps.length === count && ps.every((p) => p.status?.phase === 'Running' && isReady(p))
        ? ps
        : undefined;
    },
    timeoutMs,
  );
}

test('a 3-replica StatefulSet with a PVC template gets 3 Running+Ready pods with distinct 127.1.x.y IPs', async (t) => {
  const ns = await sb.newNamespace(t);
  await sb.apply(statefulSet('web', 3), ns);
  const ps = await readyPods(ns, 'app=web', 3);
  const ips = ps.map((p) => p.status!.podIP!);
  assert.equal(new Set(ips).size, 3, `IPs not distinct: ${ips}`);
  for (const p of ps) {
    assert.ok(inPodRange(p.status!.podIP!), `${p.status!.podIP} outside 127.1.0.0/16`);
    // claimed machine-wide by this process's kubelet: no other sandbox on the machine hands it out meanwhile
    assert.match(
      readFileSync(path.join(DEFAULT_CLAIMS_DIR, p.status!.podIP!), 'utf8'),
      new RegExp(`^${process.pid} `),
    );
    assert.deepEqual(p.status!.podIPs, [{ ip: p.status!.podIP }]);
    assert.equal(p.status!.hostIP, '127.0.0.1');
    assert.equal(p.status!.containerStatuses![0].ready, true);
    assert.equal(p.status!.containerStatuses![0].started, true);
    assert.ok(p.status!.containerStatuses![0].state?.running, 'container state running');
  }
  assert.equal(new Set(ps.map((p) => p.spec!.nodeName)).size, 3, 'pods spread over the 3 nodes');
  const pvcs = await sb.api.get<{ items: V1PersistentVolumeClaim[] }>(
    `/api/v1/namespaces/${ns}/persistentvolumeclaims`,
  );
  assert.deepEqual(pvcs.items.map((c) => [c.metadata!.name, c.status!.phase]).sort(), [
    ['data-web-0', 'Bound'],
    ['data-web-1', 'Bound'],
    ['data-web-2', 'Bound'],
  ]);
  const sts = await sb.waitFor('StatefulSet status readyReplicas=3', async () => {
    const s = await sb.api.get<{ status?: { readyReplicas?: number } }>(
      `/apis/apps/v1/namespaces/${ns}/statefulsets/web`,
    );
    return s.status?.readyReplicas === 3 ? s : undefined;
  });
  assert.equal(sts.status!.readyReplicas, 3);

  // Readiness probes keep running every second, but an unchanged status is not written again.
  const writes = () => {
    const c = sb.sandbox.kubelet.requestCounts;
    return (c.PATCH ?? 0) + (c.POST ?? 0) + (c.PUT ?? 0) + (c.DELETE ?? 0);
  };
  const before = writes();
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(writes(), before, 'the kubelet emulator wrote to the API server while nothing changed');

  // The disruption controller runs: a PodDisruptionBudget gets a real status.
  await sb.apply(
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'web' },
      spec: { minAvailable: 2, selector: { matchLabels: { app: 'web' } } },
    },
    ns,
  );
  const pdb = await sb.waitFor('PDB status', async () => {
    const p = await sb.api.get<{
      status?: { currentHealthy?: number; disruptionsAllowed?: number; expectedPods?: number };
    }>(`/apis/policy/v1/namespaces/${ns}/poddisruptionbudgets/web`);
    return p.status?.expectedPods === 3 ? p.status : undefined;
  });
  assert.deepEqual([pdb.currentHealthy, pdb.disruptionsAllowed], [3, 1]);
});

test('a deleted StatefulSet pod comes back with the same name and the same volume data', async (t) => {
  const ns = await sb.newNamespace(t);
  await sb.apply(statefulSet('db', 2), ns);
  const [before] = (await readyPods(ns, 'app=db', 2)).filter((p) => p.metadata!.name === 'db-1');
  const pvc = await sb.api.get<V1PersistentVolumeClaim>(
    `/api/v1/namespaces/${ns}/persistentvolumeclaims/data-db-1`,
  );
  const pvDir = sb.sandbox.kubelet.pvDir(pvc.spec!.volumeName!);
  assert.ok(pvDir && existsSync(pvDir), `PV directory ${pvDir} missing`);
  writeFileSync(path.join(pvDir, 'marker'), `written for ${before.metadata!.uid}`);

  await sb.api.delete(`/api/v1/namespaces/${ns}/pods/db-1`);
  const after = await sb.waitFor('db-1 recreated (new UID) and Ready', async () => {
    const p = await pod(ns, 'db-1');
    return p.metadata!.uid !== before.metadata!.uid && isReady(p) ? p : undefined;
  });
  assert.equal(after.metadata!.name, 'db-1');
  const running = sb.sandbox.kubelet.container(ns, 'db-1', 'main');
  assert.ok(running, 'the new pod has a running container');
  const cat = await running.exec(['cat', '/data/marker'], 2000);
  assert.deepEqual(cat, { exitCode: 0, stdout: `written for ${before.metadata!.uid}`, stderr: '' });
  const samePvc = await sb.api.get<V1PersistentVolumeClaim>(
    `/api/v1/namespaces/${ns}/persistentvolumeclaims/data-db-1`,
  );
  assert.equal(samePvc.metadata!.uid, pvc.metadata!.uid, 'the claim was kept');
});

test('a pod whose readiness probe fails stays not Ready, and turns Ready when the probe succeeds', async (t) => {
  const ns = await sb.newNamespace(t);
  await sb.apply(
    [
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'switch' }, data: { unready: 'yes' } },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'probed' },
        spec: {
          containers: [
            {
              name: 'web',
              image: 'nginx',
              ports: [{ containerPort: 8080 }],
              env: [{ name: 'SANDBOX_HTTP_FAIL_IF_EXISTS', value: '/switch/unready' }],
              readinessProbe: {
                httpGet: { port: 8080, path: '/healthz' },
                periodSeconds: 1,
                failureThreshold: 1,
              },
              volumeMounts: [{ name: 'switch', mountPath: '/switch' }],
            },
          ],
          volumes: [{ name: 'switch', configMap: { name: 'switch' } }],
        },
      },
    ],
    ns,
  );
  await sb.waitFor(
    'container running',
    async () => (await pod(ns, 'probed')).status?.containerStatuses?.[0]?.state?.running,
  );
  // At least three probe periods with the probe failing: never Ready.
  const t0 = Date.now();
  while (Date.now() - t0 < 3500) {
    const p = await pod(ns, 'probed');
    assert.equal(isReady(p), false, 'Ready while the readiness probe fails');
    assert.equal(p.status?.phase, 'Running');
    await new Promise((r) => setTimeout(r, 250));
  }
  const unready = await pod(ns, 'probed');
  assert.equal(unready.status!.conditions!.find((c) => c.type === 'Ready')!.reason, 'ContainersNotReady');

  await sb.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'switch' }, data: {} }, ns);
  await sb.waitFor('pod Ready once the probe succeeds', async () => isReady(await pod(ns, 'probed')), 20_000);
  await sb.apply(
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'switch' }, data: { unready: 'again' } },
    ns,
  );
  await sb.waitFor('pod not Ready again', async () => !isReady(await pod(ns, 'probed')), 20_000);
});

test('a ReplicaSet scaled from 3 to 1 leaves 1 pod', async (t) => {
  const ns = await sb.newNamespace(t);
  const rs = (replicas: number) => ({
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: 'rs' },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'rs' } },
      template: {
        metadata: { labels: { app: 'rs' } },
        spec: {
          terminationGracePeriodSeconds: 3,
          containers: [{ name: 'c', image: 'busybox', command: ['sleep', 'infinity'] }],
        },
      },
    },
  });
  await sb.apply(rs(3), ns);
  await readyPods(ns, 'app=rs', 3);
  await sb.apply(rs(1), ns);
  const left = await sb.waitFor('only 1 pod left (terminated ones deleted)', async () => {
    const ps = await pods(ns, 'app=rs');
    return ps.length === 1 ? ps : undefined;
  });
  assert.equal(left[0].metadata!.deletionTimestamp, undefined);
  assert.ok(isReady(left[0]));
});

test('kubectl works with the sandbox kubeconfig; the operator user has no rights without RBAC', async () => {
  const nodes = JSON.parse(await sb.kubectl(['get', 'nodes', '-o', 'json'])) as {
    items: Array<{
      metadata: { labels: Record<string, string> };
      status: { conditions: Array<{ type: string; status: string }> };
    }>;
  };
  assert.equal(nodes.items.length, 3);
  for (const n of nodes.items) {
    assert.ok(n.metadata.labels['kubernetes.io/hostname']);
    assert.match(n.metadata.labels['topology.kubernetes.io/zone'], /^sandbox-zone-/);
    assert.ok(n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True'));
  }
  assert.equal((await sb.kubectl(['auth', 'can-i', 'delete', 'pods', '-A'])).trim(), 'yes');
  // `kubectl auth can-i` answers "no" with exit code 1.
  const asOperator = spawnSync(
    KUBECTL,
    ['--kubeconfig', sb.sandbox.operatorKubeconfigPath, 'auth', 'can-i', 'list', 'pods', '-n', 'default'],
    { encoding: 'utf8' },
  );
  assert.equal(asOperator.stdout.trim(), 'no');
  assert.equal(asOperator.status, 1);
  const whoami = JSON.parse(
    execFileSync(
      KUBECTL,
      ['--kubeconfig', sb.sandbox.operatorKubeconfigPath, 'auth', 'whoami', '-o', 'json'],
      {
        encoding: 'utf8',
      },
    ),
  ) as { status: { userInfo: { username: string; groups?: string[] } } };
  assert.equal(whoami.status.userInfo.username, 'emqx-operator');
  assert.deepEqual(whoami.status.userInfo.groups, ['system:authenticated']);
});

test('SRV records of a headless Service name the StatefulSet pods by hostname', async (t) => {
  const ns = await sb.newNamespace(t);
  await sb.apply(
    [
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'emqx-headless' },
        spec: {
          clusterIP: 'None',
          publishNotReadyAddresses: true,
          selector: { app: 'emqx-headless' },
          ports: [{ name: 'ekka', port: 4370, targetPort: 4370 }],
        },
      },
      statefulSet('emqx-headless', 2),
    ],
    ns,
  );
  const ps = await readyPods(ns, 'app=emqx-headless', 2);
  const name = `emqx-headless.${ns}.svc.cluster.local`;
  const srv = await sb.waitFor('2 SRV records', async () => {
    const r = await sb.sandbox.resolver.resolveSrv(name);
    return r.length === 2 ? r : undefined;
  });
  assert.deepEqual(
    srv.map((r) => [r.name, r.port]),
    [
      [`emqx-headless-0.emqx-headless.${ns}.svc.cluster.local`, 4370],
      [`emqx-headless-1.emqx-headless.${ns}.svc.cluster.local`, 4370],
    ],
  );
  for (const r of srv) {
    const podName = r.name.split('.')[0];
    const ip = ps.find((p) => p.metadata!.name === podName)!.status!.podIP!;
    assert.deepEqual(await sb.sandbox.resolver.resolveHost(r.name), [ip]);
  }
  assert.deepEqual(await sb.sandbox.resolver.resolveSrv(`nope.${ns}.svc.cluster.local`), []);
});

test('env from a missing Secret waits with CreateContainerConfigError until the Secret appears', async (t) => {
  const ns = await sb.newNamespace(t);
  await sb.apply(
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'needs-secret' },
      spec: {
        containers: [
          {
            name: 'c',
            image: 'busybox',
            env: [{ name: 'COOKIE', valueFrom: { secretKeyRef: { name: 'cookie', key: 'cookie' } } }],
          },
        ],
      },
    },
    ns,
  );
  const waiting = await sb.waitFor('CreateContainerConfigError', async () => {
    const w = (await pod(ns, 'needs-secret')).status?.containerStatuses?.[0]?.state?.waiting;
    return w?.reason === 'CreateContainerConfigError' ? w : undefined;
  });
  assert.equal(waiting.message, 'secret "cookie" not found');
  await sb.apply(
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'cookie' }, stringData: { cookie: 'monster' } },
    ns,
  );
  await sb.waitFor('pod Ready after the Secret appeared', async () => isReady(await pod(ns, 'needs-secret')));
});

test('a failing liveness probe restarts the container; readiness gates hold Ready until their condition is True', async (t) => {
  const ns = await sb.newNamespace(t);
  await sb.apply(
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'gated' },
      spec: {
        readinessGates: [{ conditionType: 'apps.emqx.io/on-serving' }],
        terminationGracePeriodSeconds: 2,
        containers: [
          {
            name: 'c',
            image: 'busybox',
            command: ['sleep', '3600'],
            livenessProbe: {
              exec: { command: ['test', '-f', '/tmp/alive'] },
              periodSeconds: 1,
              failureThreshold: 2,
            },
            volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
          },
        ],
        volumes: [{ name: 'tmp', emptyDir: {} }],
      },
    },
    ns,
  );
  const restarted = await sb.waitFor('a restart after liveness failures', async () => {
    const cs = (await pod(ns, 'gated')).status?.containerStatuses?.[0];
    return (cs?.restartCount ?? 0) >= 1 ? cs : undefined;
  });
  assert.ok(restarted.lastState?.terminated, 'lastState records the killed container');
  // Keep it alive from now on: the file lives in the emptyDir, which survives container restarts.
  writeFileSync(path.join(sb.sandbox.kubelet.podDir(ns, 'gated')!, 'volumes', 'tmp', 'alive'), '');
  const p = await sb.waitFor('containers ready', async () => {
    const q = await pod(ns, 'gated');
    return q.status?.conditions?.find((c) => c.type === 'ContainersReady')?.status === 'True' ? q : undefined;
  });
  const ready = p.status!.conditions!.find((c) => c.type === 'Ready')!;
  assert.equal(ready.status, 'False');
  assert.equal(ready.reason, 'ReadinessGatesNotReady');
  // The operator's part: set the gate condition (strategic merge keeps the kubelet's conditions).
  await sb.api.patch(
    `/api/v1/namespaces/${ns}/pods/gated/status`,
    {
      status: {
        conditions: [
          { type: 'apps.emqx.io/on-serving', status: 'True', lastTransitionTime: new Date().toISOString() },
        ],
      },
    },
    CONTENT_TYPE.strategic,
  );
  const done = await sb.waitFor('Ready with the gate True', async () => {
    const q = await pod(ns, 'gated');
    return isReady(q) ? q : undefined;
  });
  assert.equal(
    done.status!.conditions!.find((c) => c.type === 'apps.emqx.io/on-serving')?.status,
    'True',
    'gate condition preserved',
  );
});

test('graceful deletion runs the preStop hook, then the pod is gone; a deleted PVC releases its PV', async (t) => {
  const ns = await sb.newNamespace(t);
  await sb.apply(
    [
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: 'claim' },
        spec: {
          accessModes: ['ReadWriteOnce'],
          resources: { requests: { storage: '2Gi' } },
          storageClassName: 'standard',
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'stopper' },
        spec: {
          // long, so that a deletion that waited for all of it cannot pass for a busy machine's slowness
          terminationGracePeriodSeconds: 120,
          containers: [
            {
              name: 'c',
              image: 'busybox',
              lifecycle: { preStop: { exec: { command: ['sh', '-c', 'touch /data/prestop-ran'] } } },
              volumeMounts: [{ name: 'data', mountPath: '/data' }],
            },
          ],
          volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'claim' } }],
        },
      },
    ],
    ns,
  );
  await sb.waitFor('pod Ready', async () => isReady(await pod(ns, 'stopper')));
  const pvc = await sb.api.get<V1PersistentVolumeClaim>(
    `/api/v1/namespaces/${ns}/persistentvolumeclaims/claim`,
  );
  assert.equal(pvc.status!.capacity!.storage, '2Gi');
  const pvName = pvc.spec!.volumeName!;
  const pvDir = sb.sandbox.kubelet.pvDir(pvName)!;
  const t0 = Date.now();
  await sb.api.delete(`/api/v1/namespaces/${ns}/pods/stopper`);
  await sb.waitFor(
    'pod gone',
    async () => !(await pods(ns)).some((p) => p.metadata!.name === 'stopper'),
    110_000,
  );
  assert.ok(
    Date.now() - t0 < 110_000,
    'deletion waited for the whole grace period although the container stopped',
  );
  assert.ok(existsSync(path.join(pvDir, 'prestop-ran')), 'preStop hook did not run');

  await sb.api.delete(`/api/v1/namespaces/${ns}/persistentvolumeclaims/claim`);
  await sb.waitFor('PV deleted after its claim', async () => {
    try {
      await sb.api.get<V1PersistentVolume>(`/api/v1/persistentvolumes/${pvName}`);
      return false;
    } catch (e) {
      return (e as { code?: number }).code === 404;
    }
  });
  await sb.waitFor('PV directory removed', () => !existsSync(pvDir), 5000);
});

test('restart policies and init containers', async (t) => {
  const ns = await sb.newNamespace(t);
  const podOf = (name: string, spec: Record<string, unknown>) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec,
  });
  await sb.apply(
    [
      podOf('crash', { containers: [{ name: 'c', image: 'busybox', command: ['sh', '-c', 'exit 3'] }] }),
      podOf('once', {
        restartPolicy: 'Never',
        containers: [{ name: 'c', image: 'busybox', command: ['sh', '-c', 'echo it went wrong; exit 3'] }],
      }),
      podOf('explained', {
        restartPolicy: 'Never',
        containers: [
          {
            name: 'c',
            image: 'busybox',
            command: ['sh', '-c', 'echo it went wrong; exit 3'],
            terminationMessagePolicy: 'FallbackToLogsOnError',
          },
        ],
      }),
      podOf('job', {
        restartPolicy: 'OnFailure',
        containers: [{ name: 'c', image: 'busybox', command: ['true'] }],
      }),
      podOf('init', {
        initContainers: [{ name: 'setup', image: 'busybox', command: ['/opt/prepare-everything'] }],
        containers: [{ name: 'c', image: 'busybox' }],
      }),
      podOf('init-fail', {
        restartPolicy: 'Never',
        initContainers: [{ name: 'setup', image: 'busybox', command: ['sh', '-c', 'exit 2'] }],
        containers: [{ name: 'c', image: 'busybox' }],
      }),
    ],
    ns,
  );
  const backoff = await sb.waitFor(
    'crash: CrashLoopBackOff after repeated exits',
    async () => {
      const cs = (await pod(ns, 'crash')).status?.containerStatuses?.[0];
      return cs?.state?.waiting?.reason === 'CrashLoopBackOff' ? cs : undefined;
    },
    30_000,
    100,
  );
  assert.ok(backoff.restartCount >= 1, `restartCount ${backoff.restartCount}`);
  assert.equal(backoff.lastState?.terminated?.exitCode, 3);
  await sb.waitFor('crash: restarted again after the back-off', async () => {
    const cs = (await pod(ns, 'crash')).status?.containerStatuses?.[0];
    return (cs?.restartCount ?? 0) > backoff.restartCount;
  });
  assert.equal((await pod(ns, 'crash')).status?.phase, 'Running');

  const once = await sb.waitFor('once: Failed', async () => {
    const p = await pod(ns, 'once');
    return p.status?.phase === 'Failed' ? p : undefined;
  });
  assert.equal(once.status!.containerStatuses![0].state?.terminated?.exitCode, 3);
  assert.equal(once.status!.containerStatuses![0].restartCount, 0);
  // the default terminationMessagePolicy (File): nothing wrote the file, no message, as with a real kubelet
  assert.equal(once.status!.containerStatuses![0].state?.terminated?.message, undefined);
  // FallbackToLogsOnError: the end of the log is the message
  const explained = await sb.waitFor('explained: Failed', async () => {
    const p = await pod(ns, 'explained');
    return p.status?.phase === 'Failed' ? p : undefined;
  });
  assert.match(explained.status!.containerStatuses![0].state?.terminated?.message ?? '', /it went wrong$/);
  // and the emulator's own log says why each one failed (the pod directory, with the container log, goes away)
  const kubeletLog = readFileSync(path.join(sb.sandbox.logsDir, 'kubelet.log'), 'utf8');
  assert.match(kubeletLog, new RegExp(`pod ${ns}/once: container c exited 3: it went wrong\n`));
  await sb.waitFor('job: Succeeded', async () => (await pod(ns, 'job')).status?.phase === 'Succeeded');

  const init = await sb.waitFor('init: Ready after its init container', async () => {
    const p = await pod(ns, 'init');
    return isReady(p) ? p : undefined;
  });
  assert.equal(init.status!.initContainerStatuses![0].state?.terminated?.reason, 'Completed');
  const initFail = await sb.waitFor('init-fail: Failed', async () => {
    const p = await pod(ns, 'init-fail');
    return p.status?.phase === 'Failed' ? p : undefined;
  });
  assert.equal(initFail.status!.initContainerStatuses![0].state?.terminated?.exitCode, 2);
  assert.equal(initFail.status!.containerStatuses![0].state?.waiting?.reason, 'PodInitializing');
  assert.equal(initFail.status!.conditions!.find((c) => c.type === 'Initialized')?.status, 'False');
});

test('a container that ignores the graceful stop is killed when the grace period runs out', async (t) => {
  const ns = await sb.newNamespace(t);
  await sb.apply(
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'stubborn' },
      spec: {
        terminationGracePeriodSeconds: 30,
        containers: [{ name: 'c', image: 'sandbox.test/stubborn:1' }],
      },
    },
    ns,
  );
  await sb.waitFor('stubborn pod Ready', async () => isReady(await pod(ns, 'stubborn')));
  const t0 = Date.now();
  // A delete with an explicit grace period overrides the pod's 30 s.
  await sb.api.delete(`/api/v1/namespaces/${ns}/pods/stubborn`, { gracePeriodSeconds: 2 });
  await sb.waitFor(
    'stubborn pod gone',
    async () => !(await pods(ns)).some((p) => p.metadata!.name === 'stubborn'),
  );
  const elapsed = Date.now() - t0;
  const calls = stopCalls.filter((c) => c.pod === 'stubborn');
  assert.deepEqual(
    calls.map((c) => c.graceful),
    [true, false],
    'a graceful stop, then a forced one',
  );
  const forcedAfter = calls[1].at - calls[0].at;
  assert.ok(
    // at the 2 s asked for, not the pod's 30 s (the upper bound leaves a busy machine room)
    forcedAfter >= 1800 && forcedAfter < 20_000,
    `forced stop ${forcedAfter} ms after the graceful one`,
  );
  assert.ok(elapsed >= 1800, `pod deleted after ${elapsed} ms, before the grace period ended`);
});

test('persistentVolumeClaimRetentionPolicy whenScaled: Delete removes the claim of a scaled-down pod', async (t) => {
  const ns = await sb.newNamespace(t);
  const policy = { persistentVolumeClaimRetentionPolicy: { whenScaled: 'Delete', whenDeleted: 'Retain' } };
  await sb.apply(statefulSet('keep', 2, policy), ns);
  await readyPods(ns, 'app=keep', 2);
  const claim1 = await sb.api.get<V1PersistentVolumeClaim>(
    `/api/v1/namespaces/${ns}/persistentvolumeclaims/data-keep-1`,
  );
  await sb.apply(statefulSet('keep', 1, policy), ns);
  await sb.waitFor('data-keep-1 deleted', async () => {
    const list = await sb.api.get<{ items: V1PersistentVolumeClaim[] }>(
      `/api/v1/namespaces/${ns}/persistentvolumeclaims`,
    );
    const names = list.items.map((c) => c.metadata!.name);
    return !names.includes('data-keep-1') && names.includes('data-keep-0');
  });
  await sb.waitFor('its PV deleted', async () => {
    try {
      await sb.api.get(`/api/v1/persistentvolumes/${claim1.spec!.volumeName}`);
      return false;
    } catch (e) {
      return (e as { code?: number }).code === 404;
    }
  });
  assert.equal((await readyPods(ns, 'app=keep', 1))[0].metadata!.name, 'keep-0');
});

test('apply (server-side, raw JSON) keeps CRD schema extensions and finds a new kind through discovery', async (t) => {
  const ns = await sb.newNamespace(t);
  const group = `${ns}.sandbox.test`;
  await sb.apply(`
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.${group}}
spec:
  group: ${group}
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              port: {x-kubernetes-int-or-string: true}
`);
  const stored = await sb.api.get<{
    spec: {
      versions: Array<{
        schema: {
          openAPIV3Schema: {
            properties: Record<string, { properties: Record<string, Record<string, unknown>> }>;
          };
        };
      }>;
    };
  }>(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.${group}`);
  assert.equal(
    stored.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.port[
      'x-kubernetes-int-or-string'
    ],
    true,
  );
  const [w] = await sb.apply(
    { apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name: 'w' }, spec: { port: 'mqtt' } },
    ns,
  );
  assert.equal(w.metadata?.namespace, ns);
  assert.deepEqual((w as { spec?: unknown }).spec, { port: 'mqtt' });
  await sb.api.delete(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.${group}`);
});

test('`npm run sandbox -- --no-operator` (sandbox/cli) runs in the foreground and leaves no process behind on SIGINT', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cli-sandbox-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out: string[] = [];
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'sandbox/cli/main.ts'), 'sandbox', '--no-operator', '--dir', dir],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: process.env,
    },
  );
  child.stdout.on('data', (d: Buffer) => out.push(d.toString()));
  child.stderr.on('data', (d: Buffer) => out.push(d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  t.after(() => child.kill('SIGKILL'));
  const kubeconfig = path.join(dir, 'kubeconfig');
  await sb
    .waitFor(`${kubeconfig} written`, () => existsSync(kubeconfig), 120_000, 250)
    .catch((e: Error) => {
      throw new Error(`${e.message}\noutput:\n${out.join('')}`);
    });
  assert.match(out.join(''), new RegExp(`kubectl --kubeconfig \\S*kubeconfig get pods -A`));

  const kubectl = (args: string[], input?: string) =>
    execFileSync(KUBECTL, ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8', input });
  kubectl(['apply', '-f', '-'], JSON.stringify(statefulSet('cli', 2)));
  await sb.waitFor(
    'StatefulSet cli Ready in the CLI sandbox',
    () => kubectl(['get', 'statefulset', 'cli', '-o', 'jsonpath={.status.readyReplicas}']).trim() === '2',
    30_000,
    300,
  );

  const ours = () =>
    execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes(dir) && /etcd|kube-apiserver|kube-controller-manager/.test(l));
  assert.equal(
    ours().length,
    3,
    `expected etcd, kube-apiserver and kube-controller-manager:\n${ours().join('\n')}`,
  );
  child.kill('SIGINT');
  const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 30_000))]);
  assert.equal(code, 0, `exit code; output:\n${out.join('')}`);
  assert.deepEqual(ours(), [], 'processes left behind');
  assert.ok(!existsSync(path.join(dir, 'state')), 'state removed');
  assert.ok(readFileSync(path.join(dir, 'logs', 'kube-apiserver.log'), 'utf8').length > 0, 'logs kept');
});
