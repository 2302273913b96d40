import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1EnvVar, V1PodTemplateSpec } from '@kubernetes/client-node';
import { parseEmqxConfig } from '../emqx/config.ts';
import { parseHocon } from '../hocon/index.ts';
import { podTemplate, hashPodTemplate, podTemplateWithHash } from './pod-template.ts';
import { makeEmqx } from '../../test/support/emqx-fixture.ts';

const envOf = (t: V1PodTemplateSpec): V1EnvVar[] => t.spec?.containers[0]?.env ?? [];
const envMap = (t: V1PodTemplateSpec) =>
  Object.fromEntries(envOf(t).map((e) => [e.name, e.value ?? e.valueFrom]));
const container = (t: V1PodTemplateSpec) => t.spec!.containers[0]!;

test('core pod template: DNS discovery env in order, node identity, cookie from its Secret', () => {
  const t = podTemplate(makeEmqx(), {}, 'core');
  assert.deepEqual(
    envOf(t).map((e) => e.name),
    [
      'POD_NAME',
      'EMQX_CLUSTER__DISCOVERY_STRATEGY',
      'EMQX_CLUSTER__DNS__RECORD_TYPE',
      'EMQX_CLUSTER__DNS__NAME',
      'EMQX_HOST',
      'EMQX_NODE__DATA_DIR',
      'EMQX_NODE__ROLE',
      'EMQX_NODE__COOKIE',
      'EMQX_API_KEY__BOOTSTRAP_FILE',
      'EMQX_DASHBOARD__LISTENERS__HTTP__BIND',
    ],
  );
  const env = envMap(t);
  assert.deepEqual(env.POD_NAME, { fieldRef: { fieldPath: 'metadata.name' } });
  assert.equal(env.EMQX_CLUSTER__DISCOVERY_STRATEGY, 'dns');
  assert.equal(env.EMQX_CLUSTER__DNS__RECORD_TYPE, 'srv');
  assert.equal(env.EMQX_CLUSTER__DNS__NAME, 'emqx-headless.ns1.svc.cluster.local');
  assert.equal(env.EMQX_HOST, '$(POD_NAME).$(EMQX_CLUSTER__DNS__NAME)');
  assert.equal(env.EMQX_NODE__DATA_DIR, 'data');
  assert.equal(env.EMQX_NODE__ROLE, 'core');
  assert.deepEqual(env.EMQX_NODE__COOKIE, { secretKeyRef: { name: 'emqx-node-cookie', key: 'node_cookie' } });
  assert.equal(env.EMQX_API_KEY__BOOTSTRAP_FILE, '"/opt/emqx/data/bootstrap_api_key"');
  assert.equal(env.EMQX_DASHBOARD__LISTENERS__HTTP__BIND, '18083');
  assert.equal(env.EMQX_LICENSE__KEY, undefined);
  assert.equal(container(t).name, 'emqx');
  assert.equal(container(t).image, 'emqx/emqx:5.8.3');
});

test('replicant pod template: no POD_NAME, host from the pod IP, role replicant', () => {
  const t = podTemplate(makeEmqx({ replicantTemplate: {} }), {}, 'replicant');
  const env = envMap(t);
  assert.equal(env.POD_NAME, undefined);
  assert.deepEqual(env.EMQX_HOST, { fieldRef: { fieldPath: 'status.podIP' } });
  assert.equal(env.EMQX_NODE__ROLE, 'replicant');
  assert.equal(env.EMQX_CLUSTER__DNS__NAME, 'emqx-headless.ns1.svc.cluster.local');
  assert.equal(t.metadata?.labels?.['apps.emqx.io/db-role'], 'replicant');
  assert.throws(() => podTemplate(makeEmqx(), {}, 'replicant'), /spec\.replicantTemplate/);
});

test('clusterDomain is honoured in the DNS name', () => {
  const t = podTemplate(makeEmqx({ clusterDomain: 'corp.internal' }), {}, 'core');
  assert.equal(envMap(t).EMQX_CLUSTER__DNS__NAME, 'emqx-headless.ns1.svc.corp.internal');
});

test('licence key reaches the pod from its Secret, never as a literal value', () => {
  const conf = parseEmqxConfig('license.key = "LIC-123"');
  const t = podTemplate(makeEmqx(), conf, 'core');
  assert.deepEqual(envMap(t).EMQX_LICENSE__KEY, {
    secretKeyRef: { name: 'emqx-license', key: 'license_key' },
  });
  assert.ok(!JSON.stringify(t).includes('LIC-123'));
  const cookieConf = parseEmqxConfig('node.cookie = "COOKIE-123"');
  assert.ok(!JSON.stringify(podTemplate(makeEmqx(), cookieConf, 'core')).includes('COOKIE-123'));
});

test('dashboard port from the config: env, container port, https', () => {
  const conf = parseEmqxConfig('dashboard.listeners { http.bind = "0.0.0.0:18000", https.bind = 18443 }');
  const t = podTemplate(makeEmqx(), conf, 'core');
  const env = envMap(t);
  assert.equal(env.EMQX_DASHBOARD__LISTENERS__HTTP__BIND, '18000');
  assert.equal(env.EMQX_DASHBOARD__LISTENERS__HTTPS__BIND, '18443');
  assert.deepEqual(container(t).ports, [
    { name: 'dashboard', containerPort: 18000, protocol: 'TCP' },
    { name: 'dashboard-https', containerPort: 18443, protocol: 'TCP' },
  ]);
});

test('HTTPS-only dashboard: the dashboard port is the HTTPS one and default probes use HTTPS', () => {
  const conf = parseHocon('dashboard.listeners { http.enable = false, https.bind = 18443 }');
  const t = podTemplate(makeEmqx(), conf, 'core');
  assert.deepEqual(container(t).ports, [{ name: 'dashboard', containerPort: 18443, protocol: 'TCP' }]);
  assert.equal(container(t).readinessProbe?.httpGet?.scheme, 'HTTPS');
  assert.equal(container(t).livenessProbe?.httpGet?.scheme, 'HTTPS');
  assert.equal(envMap(t).EMQX_DASHBOARD__LISTENERS__HTTP__BIND, undefined);
});

test('user env: replaces operator variables in place, others appended in order, last duplicate wins', () => {
  const t = podTemplate(
    makeEmqx({
      coreTemplate: {
        spec: {
          env: [
            { name: 'A', value: '1' },
            { name: 'EMQX_CLUSTER__DNS__NAME', value: 'custom.example' },
            { name: 'B', value: '2' },
            { name: 'A', value: '3' },
          ],
        },
      },
    }),
    {},
    'core',
  );
  const names = envOf(t).map((e) => e.name);
  assert.equal(new Set(names).size, names.length, 'names are unique');
  assert.equal(
    names.indexOf('EMQX_CLUSTER__DNS__NAME'),
    3,
    'kept at its place, before EMQX_HOST which uses it',
  );
  assert.equal(envMap(t).EMQX_CLUSTER__DNS__NAME, 'custom.example');
  assert.deepEqual(names.slice(-2), ['A', 'B']);
  assert.equal(envMap(t).A, '3');
});

test('mounts: data, log, config file and bootstrap file; PVC-backed core data has no pod volume', () => {
  const t = podTemplate(makeEmqx(), {}, 'core');
  assert.deepEqual(container(t).volumeMounts, [
    { name: 'emqx-core-data', mountPath: '/opt/emqx/data' },
    { name: 'emqx-log', mountPath: '/opt/emqx/log' },
    { name: 'emqx-config', mountPath: '/opt/emqx/etc/emqx.conf', subPath: 'emqx.conf', readOnly: true },
    {
      name: 'bootstrap-api-key',
      mountPath: '/opt/emqx/data/bootstrap_api_key',
      subPath: 'bootstrap_api_key',
      readOnly: true,
    },
  ]);
  assert.deepEqual(t.spec?.volumes, [
    { name: 'bootstrap-api-key', secret: { secretName: 'emqx-bootstrap-api-key' } },
    { name: 'emqx-config', configMap: { name: 'emqx-configs' } },
    { name: 'emqx-log', emptyDir: {} },
  ]);
});

test('EmptyDir opt-out and replicants: data on an emptyDir', () => {
  const empty = podTemplate(makeEmqx({ coreTemplate: { spec: { dataVolume: 'EmptyDir' } } }), {}, 'core');
  assert.deepEqual(
    empty.spec?.volumes?.find((v) => v.name === 'emqx-core-data'),
    { name: 'emqx-core-data', emptyDir: {} },
  );
  const repl = podTemplate(makeEmqx({ replicantTemplate: {} }), {}, 'replicant');
  assert.deepEqual(
    repl.spec?.volumes?.find((v) => v.name === 'emqx-data'),
    { name: 'emqx-data', emptyDir: {} },
  );
  assert.equal(container(repl).volumeMounts?.[0]?.name, 'emqx-data');
});

test('user volumes, mounts, init and extra containers are appended; a user mount takes over a path', () => {
  const t = podTemplate(
    makeEmqx({
      coreTemplate: {
        spec: {
          extraVolumes: [
            { name: 'certs', secret: { secretName: 'tls' } },
            { name: 'logs', persistentVolumeClaim: { claimName: 'logs' } },
          ],
          extraVolumeMounts: [
            { name: 'certs', mountPath: '/opt/emqx/etc/certs' },
            { name: 'logs', mountPath: '/opt/emqx/log' },
          ],
          initContainers: [{ name: 'init', image: 'busybox' }],
          extraContainers: [{ name: 'sidecar', image: 'busybox' }],
        },
      },
    }),
    {},
    'core',
  );
  assert.deepEqual(
    container(t).volumeMounts?.map((m) => `${m.name}:${m.mountPath}`),
    [
      'emqx-core-data:/opt/emqx/data',
      'emqx-config:/opt/emqx/etc/emqx.conf',
      'bootstrap-api-key:/opt/emqx/data/bootstrap_api_key',
      'certs:/opt/emqx/etc/certs',
      'logs:/opt/emqx/log',
    ],
  );
  assert.deepEqual(
    t.spec?.volumes?.map((v) => v.name),
    ['bootstrap-api-key', 'emqx-config', 'certs', 'logs'],
    'the operator log emptyDir is dropped once unused',
  );
  assert.deepEqual(
    t.spec?.containers.map((c) => c.name),
    ['emqx', 'sidecar'],
  );
  assert.deepEqual(
    t.spec?.initContainers?.map((c) => c.name),
    ['init'],
  );
  assert.throws(
    () =>
      podTemplate(
        makeEmqx({ coreTemplate: { spec: { extraVolumes: [{ name: 'emqx-log', emptyDir: {} }] } } }),
        {},
        'core',
      ),
    /spec\.coreTemplate\.spec\.extraVolumes\[0\]\.name/,
  );
});

test('readiness gate, defaulted probes and security contexts, pass-through scheduling fields', () => {
  const emqx = makeEmqx({
    imagePullPolicy: 'IfNotPresent',
    imagePullSecrets: [{ name: 'regcred' }],
    serviceAccountName: 'my-sa',
    coreTemplate: {
      metadata: { labels: { team: 'a' }, annotations: { note: 'x' } },
      spec: {
        command: ['/bin/sh'],
        args: ['-c', 'emqx foreground'],
        resources: { requests: { cpu: '250m', memory: '512Mi' } },
        affinity: { nodeAffinity: {} },
        tolerations: [{ key: 'k', operator: 'Exists' }],
        topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'zone', whenUnsatisfiable: 'DoNotSchedule' }],
        nodeSelector: { disk: 'ssd' },
        nodeName: 'n1',
        priorityClassName: 'high',
        terminationGracePeriodSeconds: 90,
        lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } },
        envFrom: [{ configMapRef: { name: 'extra' } }],
      },
    },
    replicantTemplate: { spec: { topologySpreadConstraints: [] } },
  });
  const t = podTemplate(emqx, {}, 'core');
  const c = container(t);
  assert.deepEqual(t.spec?.readinessGates, [{ conditionType: 'apps.emqx.io/on-serving' }]);
  assert.deepEqual(c.readinessProbe?.httpGet, { path: '/status', port: 'dashboard' });
  assert.deepEqual(c.livenessProbe?.httpGet, { path: '/status', port: 'dashboard' });
  assert.equal(t.spec?.securityContext?.runAsUser, 1000);
  assert.equal(t.spec?.securityContext?.fsGroup, 1000);
  assert.equal(c.securityContext?.runAsNonRoot, true);
  assert.equal(c.imagePullPolicy, 'IfNotPresent');
  assert.deepEqual(c.command, ['/bin/sh']);
  assert.deepEqual(c.args, ['-c', 'emqx foreground']);
  assert.deepEqual(c.resources, { requests: { cpu: '250m', memory: '512Mi' } });
  assert.deepEqual(c.lifecycle, { preStop: { exec: { command: ['sleep', '5'] } } });
  assert.deepEqual(c.envFrom, [{ configMapRef: { name: 'extra' } }]);
  assert.deepEqual(t.spec?.imagePullSecrets, [{ name: 'regcred' }]);
  assert.equal(t.spec?.serviceAccountName, 'my-sa');
  assert.deepEqual(t.spec?.affinity, { nodeAffinity: {} });
  assert.deepEqual(t.spec?.tolerations, [{ key: 'k', operator: 'Exists' }]);
  assert.equal(t.spec?.topologySpreadConstraints?.length, 1);
  assert.deepEqual(t.spec?.nodeSelector, { disk: 'ssd' });
  assert.equal(t.spec?.nodeName, 'n1');
  assert.equal(t.spec?.priorityClassName, 'high');
  assert.equal(t.spec?.terminationGracePeriodSeconds, 90);
  assert.equal(t.metadata?.labels?.team, 'a');
  assert.equal(t.metadata?.labels?.['apps.emqx.io/db-role'], 'core');
  assert.equal(t.metadata?.annotations?.note, 'x');
  assert.match(t.metadata?.annotations?.['apps.emqx.io/restart-config-hash'] ?? '', /^[a-z0-9]{1,10}$/);
  // Replicants get their own topology spread constraints, not the core's (a Go operator bug).
  assert.deepEqual(podTemplate(emqx, {}, 'replicant').spec?.topologySpreadConstraints, []);
  assert.equal(podTemplate(emqx, {}, 'replicant').spec?.nodeName, undefined);
});

test('no forced preStop hook', () => {
  assert.equal(container(podTemplate(makeEmqx(), {}, 'core')).lifecycle, undefined);
});

test('hashPodTemplate: stable, changes with the template and restart-required config, not with hot config', () => {
  const emqx = makeEmqx();
  const base = parseEmqxConfig('log.console.level = info');
  const h = hashPodTemplate(podTemplate(emqx, base, 'core'));
  assert.match(h, /^[a-z0-9]{1,10}$/);
  assert.equal(
    hashPodTemplate(podTemplate(makeEmqx(), parseEmqxConfig('log.console.level = info'), 'core')),
    h,
  );
  const hot = parseEmqxConfig('log.console.level = debug\nlisteners.tcp.default.max_connections = 10');
  assert.equal(hashPodTemplate(podTemplate(emqx, hot, 'core')), h, 'hot config does not roll pods');
  const restart = parseEmqxConfig('log.console.level = info\nnode.process_limit = 1000000');
  assert.notEqual(hashPodTemplate(podTemplate(emqx, restart, 'core')), h, 'node.* rolls pods');
  const cluster = parseEmqxConfig('cluster.autoclean = 5m');
  assert.notEqual(hashPodTemplate(podTemplate(emqx, cluster, 'core')), h);
  const image = makeEmqx({ image: 'emqx/emqx:5.8.4' });
  assert.notEqual(hashPodTemplate(podTemplate(image, base, 'core')), h, 'image change');
  assert.notEqual(hashPodTemplate(podTemplate(emqx, base, 'core'), 1), h, 'collisionCount');
  const withLabel = podTemplateWithHash(podTemplate(emqx, base, 'core'), h);
  assert.equal(withLabel.metadata?.labels?.['apps.emqx.io/pod-template-hash'], h);
  assert.equal(hashPodTemplate(withLabel), h, 'the hash label itself is ignored');
});

test('k8s discovery: k8s env instead of DNS, ServiceAccount, core host from the pod name', () => {
  const conf = parseEmqxConfig('cluster.discovery_strategy = k8s');
  const emqx = makeEmqx({ clusterDomain: 'c.local', replicantTemplate: {} });
  const core = podTemplate(emqx, conf, 'core');
  const env = envMap(core);
  assert.equal(env.EMQX_CLUSTER__DISCOVERY_STRATEGY, 'k8s');
  assert.equal(env.EMQX_CLUSTER__K8S__APISERVER, '"https://kubernetes.default.svc:443"');
  assert.equal(env.EMQX_CLUSTER__K8S__SERVICE_NAME, 'emqx-headless');
  assert.equal(env.EMQX_CLUSTER__K8S__ADDRESS_TYPE, 'hostname');
  assert.equal(env.EMQX_CLUSTER__K8S__NAMESPACE, 'ns1');
  assert.equal(env.EMQX_CLUSTER__K8S__SUFFIX, 'svc.c.local');
  assert.equal(env.EMQX_CLUSTER__DNS__NAME, undefined);
  assert.equal(env.EMQX_HOST, '$(POD_NAME).emqx-headless.ns1.svc.c.local');
  assert.equal(core.spec?.serviceAccountName, 'emqx-discovery');
  const repl = podTemplate(emqx, conf, 'replicant');
  assert.deepEqual(envMap(repl).EMQX_HOST, { fieldRef: { fieldPath: 'status.podIP' } });
  assert.equal(repl.spec?.serviceAccountName, 'emqx-discovery');
  const custom = parseEmqxConfig('cluster { discovery_strategy = k8s, k8s.apiserver = "https://api:6443" }');
  assert.equal(envMap(podTemplate(emqx, custom, 'core')).EMQX_CLUSTER__K8S__APISERVER, '"https://api:6443"');
  assert.equal(podTemplate(makeEmqx(), {}, 'core').spec?.serviceAccountName, undefined);
});

test('container ports: user ports first; a user port with the dashboard name or number replaces the operator one', () => {
  const byName = podTemplate(
    makeEmqx({ coreTemplate: { spec: { ports: [{ name: 'dashboard', containerPort: 18090 }] } } }),
    {},
    'core',
  );
  assert.deepEqual(container(byName).ports, [{ name: 'dashboard', containerPort: 18090 }]);
  const byNumber = podTemplate(
    makeEmqx({
      coreTemplate: {
        spec: {
          ports: [
            { name: 'mgmt', containerPort: 18083 },
            { name: 'mqtt', containerPort: 1883 },
          ],
        },
      },
    }),
    {},
    'core',
  );
  assert.deepEqual(
    container(byNumber).ports?.map((p) => `${p.name}:${p.containerPort}`),
    ['mgmt:18083', 'mqtt:1883'],
  );
  const extra = podTemplate(
    makeEmqx({ coreTemplate: { spec: { ports: [{ name: 'mqtt', containerPort: 1883 }] } } }),
    {},
    'core',
  );
  assert.deepEqual(
    container(extra).ports?.map((p) => `${p.name}:${p.containerPort}`),
    ['mqtt:1883', 'dashboard:18083'],
  );
});
