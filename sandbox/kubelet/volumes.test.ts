import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type {
  V1ConfigMap,
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1Pod,
  V1Secret,
} from '@kubernetes/client-node';
import {
  configMapFiles,
  downwardApiFiles,
  mapContainerPath,
  PodVolumes,
  secretFiles,
  type Mount,
  type VolumeSources,
} from './volumes.ts';

test('container paths map through the longest matching mount path', () => {
  const mounts: Mount[] = [
    { mountPath: '/opt/emqx/data', hostPath: '/h/data', readOnly: false },
    { mountPath: '/opt/emqx', hostPath: '/h/root', readOnly: false },
    { mountPath: '/opt/emqx/etc/emqx.conf', hostPath: '/h/sub/emqx.conf', readOnly: true },
  ];
  assert.equal(mapContainerPath(mounts, '/opt/emqx/data'), '/h/data');
  assert.equal(mapContainerPath(mounts, '/opt/emqx/data/'), '/h/data');
  assert.equal(mapContainerPath(mounts, '/opt/emqx/data/mnesia/x'), '/h/data/mnesia/x');
  assert.equal(mapContainerPath(mounts, '/opt/emqx/etc/emqx.conf'), '/h/sub/emqx.conf');
  assert.equal(mapContainerPath(mounts, '/opt/emqx/etc/other.conf'), '/h/root/etc/other.conf');
  assert.equal(mapContainerPath(mounts, '/opt/emqxdata'), undefined, 'a prefix must end at a path separator');
  assert.equal(mapContainerPath(mounts, '/etc/passwd'), undefined);
  assert.equal(
    mapContainerPath(mounts, '/opt/emqx/data/../../../etc/passwd'),
    undefined,
    'normalised before matching',
  );
  assert.equal(mapContainerPath(mounts, 'relative'), undefined);
  assert.equal(mapContainerPath([{ mountPath: '/', hostPath: '/h', readOnly: false }], '/a/b'), '/h/a/b');
});

test('ConfigMap and Secret files: all keys, items, missing keys, optional sources', () => {
  const cm: V1ConfigMap = {
    data: { 'emqx.conf': 'a = 1' },
    binaryData: { 'bin.dat': Buffer.from([1, 2]).toString('base64') },
  };
  const all = configMapFiles(cm, 'cm', undefined, false);
  assert.ok(all.ok);
  assert.deepEqual([...all.files.keys()].sort(), ['bin.dat', 'emqx.conf']);
  assert.deepEqual([...all.files.get('bin.dat')!], [1, 2]);
  const items = configMapFiles(cm, 'cm', [{ key: 'emqx.conf', path: 'etc/emqx.conf' }], false);
  assert.ok(items.ok);
  assert.deepEqual([...items.files.keys()], ['etc/emqx.conf']);
  assert.deepEqual(configMapFiles(cm, 'cm', [{ key: 'x', path: 'x' }], false), {
    ok: false,
    message: 'configmap "cm" references non-existent key: x',
  });
  assert.deepEqual(configMapFiles(undefined, 'cm', undefined, false), {
    ok: false,
    message: 'configmap "cm" not found',
  });
  const opt = configMapFiles(undefined, 'cm', undefined, true);
  assert.ok(opt.ok && opt.files.size === 0);
  const secret: V1Secret = { data: { 'tls.crt': Buffer.from('CERT').toString('base64') } };
  const s = secretFiles(secret, 's', undefined, false);
  assert.ok(s.ok);
  assert.equal(s.files.get('tls.crt')!.toString(), 'CERT');
});

test('downwardAPI files render labels like the kubelet', () => {
  const pod: V1Pod = { metadata: { name: 'p', labels: { b: '2', a: 'x"y' } } };
  const r = downwardApiFiles(pod, [
    { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
    { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
  ]);
  assert.ok(r.ok);
  assert.equal(r.files.get('labels')!.toString(), 'a="x\\"y"\nb="2"\n');
  assert.equal(r.files.get('name')!.toString(), 'p');
});

function setup() {
  const sandbox = mkdtempSync(path.join(os.tmpdir(), 'volumes-test-'));
  const state = {
    cm: {
      metadata: { name: 'conf', namespace: 'ns' },
      data: { 'emqx.conf': 'v1', 'acl.conf': 'acl' },
    } as V1ConfigMap,
    pvc: {
      metadata: { name: 'data', namespace: 'ns' },
      spec: { volumeName: 'pv1' },
      status: { phase: 'Bound' },
    } as V1PersistentVolumeClaim,
    pv: {
      metadata: { name: 'pv1' },
      spec: { hostPath: { path: path.join(sandbox, 'volumes', 'pv1') } },
    } as V1PersistentVolume,
  };
  const sources: VolumeSources = {
    secret: () => undefined,
    configMap: (ns, name) => (name === 'conf' ? state.cm : undefined),
    pvc: (ns, name) => (name === 'data' ? state.pvc : undefined),
    pv: (name) => (name === 'pv1' ? state.pv : undefined),
  };
  const pod: V1Pod = {
    metadata: { name: 'p', namespace: 'ns' },
    spec: {
      volumes: [
        { name: 'conf', configMap: { name: 'conf' } },
        { name: 'data', persistentVolumeClaim: { claimName: 'data' } },
        { name: 'scratch', emptyDir: {} },
      ],
      containers: [
        {
          name: 'c',
          volumeMounts: [
            { name: 'conf', mountPath: '/etc/app' },
            { name: 'conf', mountPath: '/opt/emqx/etc/emqx.conf', subPath: 'emqx.conf' },
            { name: 'data', mountPath: '/opt/emqx/data' },
            { name: 'scratch', mountPath: '/opt/emqx/log', subPathExpr: '$(POD)' },
          ],
        },
      ],
    },
  };
  return { sandbox, state, sources, pod, volumes: new PodVolumes(path.join(sandbox, 'pods', 'p'), sandbox) };
}

test('volumes materialise; ConfigMap updates refresh the volume but not subPath copies', (t) => {
  const { sandbox, state, sources, pod, volumes } = setup();
  t.after(() => rmSync(sandbox, { recursive: true, force: true }));
  assert.deepEqual(volumes.sync(pod, sources), { ok: true });
  const mounts = volumes.mountsFor(pod, pod.spec!.containers[0], { POD: 'p-0' });
  const host = (p: string) => mapContainerPath(mounts, p)!;
  assert.equal(readFileSync(host('/etc/app/emqx.conf'), 'utf8'), 'v1');
  assert.equal(readFileSync(host('/opt/emqx/etc/emqx.conf'), 'utf8'), 'v1');
  assert.equal(host('/opt/emqx/data/x'), path.join(sandbox, 'volumes', 'pv1', 'x'));
  assert.ok(host('/opt/emqx/log').endsWith(path.join('volumes', 'scratch', 'p-0')), 'subPathExpr expanded');
  assert.ok(existsSync(host('/opt/emqx/log')), 'subPath directory created');

  state.cm = { ...state.cm, data: { 'emqx.conf': 'v2' } };
  assert.deepEqual(volumes.sync(pod, sources), { ok: true });
  assert.equal(readFileSync(host('/etc/app/emqx.conf'), 'utf8'), 'v2', 'volume refreshed');
  assert.equal(existsSync(host('/etc/app/acl.conf')), false, 'removed key removed');
  assert.equal(readFileSync(host('/opt/emqx/etc/emqx.conf'), 'utf8'), 'v1', 'subPath mount not refreshed');
});

test('an unbound PVC or a missing ConfigMap is reported; data in a PV directory outlives the pod', (t) => {
  const { sandbox, state, sources, pod } = setup();
  t.after(() => rmSync(sandbox, { recursive: true, force: true }));
  state.pvc = { ...state.pvc, status: { phase: 'Pending' } };
  const v1 = new PodVolumes(path.join(sandbox, 'pods', 'p1'), sandbox);
  const r = v1.sync(pod, sources);
  assert.equal(r.ok, false);
  assert.match(
    (r as { message: string }).message,
    /volume "data": persistentvolumeclaim "data" is not bound/,
  );
  state.pvc = { ...state.pvc, status: { phase: 'Bound' } };
  assert.deepEqual(v1.sync(pod, sources), { ok: true });
  const m1 = v1.mountsFor(pod, pod.spec!.containers[0], {});
  writeFileSync(mapContainerPath(m1, '/opt/emqx/data/keep')!, 'persisted');
  rmSync(path.join(sandbox, 'pods', 'p1'), { recursive: true });
  const v2 = new PodVolumes(path.join(sandbox, 'pods', 'p2'), sandbox);
  assert.deepEqual(v2.sync(pod, sources), { ok: true });
  const m2 = v2.mountsFor(pod, pod.spec!.containers[0], {});
  assert.equal(readFileSync(mapContainerPath(m2, '/opt/emqx/data/keep')!, 'utf8'), 'persisted');

  const missing = { ...sources, configMap: () => undefined };
  const r2 = new PodVolumes(path.join(sandbox, 'pods', 'p3'), sandbox).sync(pod, missing);
  assert.deepEqual(r2, {
    ok: false,
    message: 'MountVolume.SetUp failed for volume "conf": configmap "conf" not found',
  });
});

test('PV and hostPath directories outside the sandbox are redirected inside it', (t) => {
  const { sandbox, sources, pod } = setup();
  t.after(() => rmSync(sandbox, { recursive: true, force: true }));
  const outside: V1Pod = {
    ...pod,
    spec: {
      containers: [{ name: 'c', volumeMounts: [{ name: 'h', mountPath: '/host' }] }],
      volumes: [{ name: 'h', hostPath: { path: '/etc' } }],
    },
  };
  const v = new PodVolumes(path.join(sandbox, 'pods', 'p'), sandbox);
  assert.deepEqual(v.sync(outside, sources), { ok: true });
  const m = v.mountsFor(outside, outside.spec!.containers[0], {});
  assert.equal(mapContainerPath(m, '/host/passwd'), path.join(sandbox, 'hostpath', 'etc', 'passwd'));
});
