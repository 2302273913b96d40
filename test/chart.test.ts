// The Helm chart (charts/emqx-operator), rendered by a real Helm built from its Go module: deploy/ is exactly its
// rendering, the CRDs are those of src/api/crds.ts, bad values fail at install naming the value, and the
// namespace-scoped mode grants only a Role in the watched namespace.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { before, describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { buildCrds, DEPLOY_CRD_OPTIONS } from '../src/api/crds.ts';
import { resolveHelm } from '../sandbox/cluster/helm.ts';
import { CHART_DIR, renderDeploy, staleFiles } from '../scripts/manifests.ts';

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: any;
  rules?: Array<{ apiGroups: string[]; resources: string[]; resourceNames?: string[]; verbs: string[] }>;
  subjects?: any[];
  roleRef?: any;
};

let helm = '';

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(helm, args, { maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function render(
  set: string[] = [],
  extra: string[] = [],
  release = 'emqx-operator',
  ns = 'emqx-operator-system',
) {
  const r = await run([
    'template',
    release,
    CHART_DIR,
    '--namespace',
    ns,
    ...set.flatMap((s) => ['--set', s]),
    ...extra,
  ]);
  assert.equal(r.code, 0, `helm template failed: ${r.stderr}`);
  return parseAllDocuments(r.stdout)
    .map((d) => d.toJSON() as Obj | null)
    .filter((o): o is Obj => !!o?.kind);
}

const find = (objs: Obj[], kind: string, name?: string) =>
  objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));

before(async () => {
  helm = await resolveHelm({ onProgress: (d) => process.stderr.write(d) });
});

describe('Helm chart charts/emqx-operator', () => {
  it('helm lint passes', async () => {
    const r = await run(['lint', CHART_DIR, '--strict']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it('deploy/ is the rendering of the chart (run `npm run manifests` when this fails)', () => {
    const stale = staleFiles(renderDeploy(helm));
    assert.deepEqual(
      stale,
      [],
      `deploy/ differs from the chart in ${stale.join(', ')}: run \`npm run manifests\``,
    );
  });

  it('renders the CRDs of src/api/crds.ts, pointed at the release webhook Service, kept on uninstall', async () => {
    const objs = await render([], [], 'ops', 'team-ops');
    const crds = find(objs, 'CustomResourceDefinition');
    assert.equal(crds.length, 2);
    for (const want of buildCrds(DEPLOY_CRD_OPTIONS)) {
      const got = crds.find((c) => c.metadata.name === want.metadata.name);
      assert.ok(got, want.metadata.name);
      const spec = structuredClone(want.spec) as any;
      if (spec.conversion?.webhook) {
        spec.conversion.webhook.clientConfig.service.namespace = 'team-ops';
        spec.conversion.webhook.clientConfig.service.name = 'ops-emqx-operator-webhook';
      }
      assert.ok(isDeepStrictEqual(got.spec, spec), `${want.metadata.name}: spec differs from buildCrds()`);
      assert.equal(got.metadata.annotations?.['helm.sh/resource-policy'], 'keep');
    }
    assert.equal(find(objs, 'Service', 'ops-emqx-operator-webhook').length, 1);
    const noCrds = await render(['crds.install=false']);
    assert.equal(find(noCrds, 'CustomResourceDefinition').length, 0);
  });

  it('webhook certificate: the operator by default; with cert-manager a Certificate, CA injection, no operator-made CA', async () => {
    const mine = await render(['webhook.certificate.validity=90d']);
    const args = find(mine, 'Deployment')[0]!.spec.template.spec.containers[0].args as string[];
    assert.ok(
      args.includes('--webhook-cert-provider=operator') && args.includes('--webhook-cert-validity=90d'),
    );
    assert.equal(find(mine, 'Certificate').length, 0);
    for (const crd of find(mine, 'CustomResourceDefinition'))
      assert.equal(crd.metadata.annotations?.['cert-manager.io/inject-ca-from'], undefined);

    const cm = await render(['webhook.certificate.provider=cert-manager'], [], 'ops', 'team-ops');
    const cmArgs = find(cm, 'Deployment')[0]!.spec.template.spec.containers[0].args as string[];
    assert.ok(cmArgs.includes('--webhook-cert-provider=cert-manager'));
    assert.ok(!cmArgs.some((a) => a.startsWith('--webhook-cert-validity')));
    const [cert] = find(cm, 'Certificate', 'emqx-operator-webhook-cert');
    assert.equal(cert!.apiVersion, 'cert-manager.io/v1');
    assert.equal(cert!.metadata.namespace, 'team-ops');
    assert.equal(cert!.spec.secretName, 'emqx-operator-webhook-cert');
    assert.deepEqual(cert!.spec.dnsNames, [
      'ops-emqx-operator-webhook.team-ops.svc',
      'ops-emqx-operator-webhook.team-ops.svc.cluster.local',
    ]);
    assert.deepEqual(cert!.spec.issuerRef, {
      name: 'ops-emqx-operator-selfsigned',
      kind: 'Issuer',
      group: 'cert-manager.io',
    });
    assert.deepEqual(find(cm, 'Issuer', 'ops-emqx-operator-selfsigned')[0]?.spec, { selfSigned: {} });
    const emqxCrd = find(cm, 'CustomResourceDefinition', 'emqxes.apps.emqx.io')[0]!;
    assert.equal(
      emqxCrd.metadata.annotations?.['cert-manager.io/inject-ca-from'],
      'team-ops/emqx-operator-webhook-cert',
    );
    assert.equal(emqxCrd.spec.conversion.webhook.clientConfig.caBundle, undefined);

    const own = await render([
      'webhook.certificate.provider=cert-manager',
      'webhook.certificate.issuerRef.name=corp-ca',
      'webhook.certificate.issuerRef.kind=ClusterIssuer',
    ]);
    assert.deepEqual(find(own, 'Certificate')[0]!.spec.issuerRef, {
      name: 'corp-ca',
      kind: 'ClusterIssuer',
      group: 'cert-manager.io',
    });
    assert.equal(find(own, 'Issuer').length, 0);
    const bad = await run(['template', 'x', CHART_DIR, '--set', 'webhook.certificate.provider=vault']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /provider/);
  });

  it('the Deployment: replicas, leader election, webhook Service, probes, non-root, projected token', async () => {
    const objs = await render(['replicaCount=3', 'image.tag=9.9.9']);
    const [dep] = find(objs, 'Deployment');
    assert.ok(dep);
    assert.equal(dep.spec.replicas, 3);
    const pod = dep.spec.template.spec;
    const c = pod.containers[0];
    assert.equal(c.image, 'emqx-operator:9.9.9');
    for (const a of [
      'run',
      '--leader-elect',
      '--leader-election-namespace=emqx-operator-system',
      '--webhook-service=emqx-operator-system/emqx-operator-webhook',
    ])
      assert.ok(c.args.includes(a), `args lack ${a}: ${c.args.join(' ')}`);
    assert.equal(c.args.filter((a: string) => a.startsWith('--namespace')).length, 0);
    assert.equal(c.livenessProbe.httpGet.path, '/healthz');
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(pod.automountServiceAccountToken, false);
    const api = pod.volumes.find((v: any) => v.name === 'kube-api-access');
    assert.ok(api.projected.sources.some((s: any) => s.serviceAccountToken?.path === 'token'));
    assert.deepEqual(
      c.volumeMounts.find((m: any) => m.name === 'kube-api-access').mountPath,
      '/var/run/secrets/kubernetes.io/serviceaccount',
    );
    assert.equal(find(objs, 'PodDisruptionBudget')[0]?.spec.maxUnavailable, 1);
    const [np] = find(objs, 'NetworkPolicy');
    assert.deepEqual(np!.spec.policyTypes, ['Ingress']);
    const metricsRule = np!.spec.ingress.find((r: any) => r.ports.some((p: any) => p.port === 'metrics'));
    assert.deepEqual(metricsRule.from, [
      { namespaceSelector: { matchLabels: { 'apps.emqx.io/scrape-operator-metrics': 'true' } } },
    ]);
    const open = await render(['networkPolicy.metricsFrom=null']);
    const openRule = find(open, 'NetworkPolicy')[0]!.spec.ingress.find((r: any) =>
      r.ports.some((p: any) => p.port === 'metrics'),
    );
    assert.equal(openRule.from, undefined, 'metricsFrom emptied: anyone may scrape');
    assert.equal(find(objs, 'Service', 'emqx-operator-metrics').length, 1);
    // All namespaces: one ClusterRole for the workloads and the CRDs; the Lease only in the operator's namespace.
    const [cr] = find(objs, 'ClusterRole');
    assert.ok(cr!.rules!.some((r) => r.resources.includes('emqxes')));
    // Cluster-wide only list (the Go-operator takeover check); get/create/update of its own Lease stay in the Role.
    assert.ok(
      !cr!.rules!.some((r) => r.resources.includes('leases') && r.verbs.some((v) => v !== 'list')),
      'no cluster-wide Lease writes',
    );
    const roles = find(objs, 'Role');
    assert.deepEqual(
      roles.map((r) => r.metadata.namespace),
      ['emqx-operator-system'],
    );
    assert.ok(roles[0]!.rules!.some((r) => r.resources.includes('leases')));
  });

  it('watchNamespace: a Role in that namespace, only the CRD rule and the Lease list cluster-wide, --namespace passed', async () => {
    const objs = await render(['watchNamespace=team-a']);
    const roles = find(objs, 'Role');
    const workload = roles.find((r) => r.metadata.namespace === 'team-a');
    assert.ok(workload, 'a Role in team-a');
    assert.ok(workload.rules!.some((r) => r.resources.includes('emqxes')));
    const self = roles.find((r) => r.metadata.namespace === 'emqx-operator-system');
    assert.ok(self?.rules!.some((r) => r.resources.includes('leases')));
    const clusterRoles = find(objs, 'ClusterRole');
    assert.equal(clusterRoles.length, 1);
    // Cluster-wide only the operator's CRDs and the Lease list a takeover needs (the Go operator's Lease may be in
    // any namespace).
    assert.deepEqual(
      clusterRoles[0]!.rules!.flatMap((r) => r.resources),
      ['customresourcedefinitions', 'leases'],
    );
    for (const b of [...find(objs, 'RoleBinding'), ...find(objs, 'ClusterRoleBinding')])
      assert.deepEqual(b.subjects, [
        { kind: 'ServiceAccount', name: 'emqx-operator', namespace: 'emqx-operator-system' },
      ]);
    const c = find(objs, 'Deployment')[0]!.spec.template.spec.containers[0];
    assert.ok(c.args.includes('--namespace=team-a'));
  });

  it('memory: a limit by default, passed to the entry point with the heap share so the heap cap follows it', async () => {
    const env = (objs: Obj[]) => {
      const c = find(objs, 'Deployment')[0]!.spec.template.spec.containers[0];
      return { c, vars: new Map((c.env as Array<{ name: string }>).map((e) => [e.name, e])) };
    };
    const { c, vars } = env(await render());
    assert.equal(c.resources.limits.memory, '256Mi');
    assert.deepEqual(vars.get('EMQX_OPERATOR_MEMORY_LIMIT_MIB'), {
      name: 'EMQX_OPERATOR_MEMORY_LIMIT_MIB',
      valueFrom: { resourceFieldRef: { containerName: c.name, resource: 'limits.memory', divisor: '1Mi' } },
    });
    assert.deepEqual(vars.get('EMQX_OPERATOR_HEAP_PERCENT'), {
      name: 'EMQX_OPERATOR_HEAP_PERCENT',
      value: '50',
    });
    assert.deepEqual(vars.get('EMQX_OPERATOR_LITE_MODE'), { name: 'EMQX_OPERATOR_LITE_MODE', value: 'true' });
    const other = env(await render(['resources.limits.memory=1Gi', 'heapPercent=40', 'liteMode=false']));
    assert.equal(other.c.resources.limits.memory, '1Gi');
    assert.equal((other.vars.get('EMQX_OPERATOR_HEAP_PERCENT') as { value?: string }).value, '40');
    assert.equal((other.vars.get('EMQX_OPERATOR_LITE_MODE') as { value?: string }).value, 'false');
  });

  it('webhook.enabled=false (a namespace shard): no webhook port, Service, certificate or rights, CRDs left to the webhook release', async () => {
    const on = await render(['watchNamespace=team-a']);
    const shard = await render(
      [
        'watchNamespace=team-b',
        'webhook.enabled=false',
        'crds.install=false',
        'webhook.certificate.provider=cert-manager',
      ],
      [],
      'shard-b',
      'ops-b',
    );
    const c = find(shard, 'Deployment')[0]!.spec.template.spec.containers[0];
    assert.deepEqual(
      c.args.filter((a: string) => a.startsWith('--webhook')),
      [],
      'no webhook flag: the operator serves no webhook and never writes the CRDs',
    );
    assert.ok(c.args.includes('--namespace=team-b'));
    assert.deepEqual(
      c.ports.map((p: any) => p.name),
      ['metrics', 'health'],
    );
    assert.deepEqual(
      find(shard, 'Service').map((o) => o.metadata.name),
      ['shard-b-emqx-operator-metrics'],
    );
    assert.equal(find(shard, 'Certificate').length + find(shard, 'Issuer').length, 0);
    assert.equal(find(shard, 'CustomResourceDefinition').length, 0);
    const np = find(shard, 'NetworkPolicy')[0]!;
    assert.deepEqual(
      np.spec.ingress.flatMap((r: any) => r.ports.map((p: any) => p.port)),
      ['health', 'metrics'],
    );
    // RBAC: the CRDs read-only, no webhook certificate Secret in its own namespace; the rest as with the webhook
    const rules = (objs: Obj[]) =>
      [...find(objs, 'ClusterRole'), ...find(objs, 'Role')]
        .flatMap((r) => r.rules!)
        .map(
          (r) =>
            `${r.resources.join(',')}${r.resourceNames ? `[${r.resourceNames.join(',')}]` : ''}: ${r.verbs.join(',')}`,
        );
    assert.ok(
      rules(shard).includes('customresourcedefinitions[emqxes.apps.emqx.io,rebalances.apps.emqx.io]: get'),
    );
    assert.ok(
      rules(on).includes('customresourcedefinitions[emqxes.apps.emqx.io,rebalances.apps.emqx.io]: get,patch'),
    );
    assert.deepEqual(
      rules(on).filter((r) => !rules(shard).includes(r)),
      [
        'customresourcedefinitions[emqxes.apps.emqx.io,rebalances.apps.emqx.io]: get,patch',
        'secrets: create',
        'secrets[emqx-operator-webhook-cert]: get,update',
      ],
    );
    assert.deepEqual(
      rules(shard).filter((r) => !rules(on).includes(r)),
      ['customresourcedefinitions[emqxes.apps.emqx.io,rebalances.apps.emqx.io]: get'],
    );
    // CRDs without the webhook would point at a Service this release does not have: refused, naming both values
    const bad = await run(['template', 'x', CHART_DIR, '--set', 'webhook.enabled=false']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /crds\.install needs webhook\.enabled/);
    const lint = await run([
      'lint',
      CHART_DIR,
      '--strict',
      '--set',
      'webhook.enabled=false',
      '--set',
      'crds.install=false',
    ]);
    assert.equal(lint.code, 0, lint.stdout + lint.stderr);
  });

  it('bad values fail at install, naming the value', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['replicaCount=two'], /replicaCount/],
      [['replicaCount=0'], /replicaCount/],
      [['watchNamespace=Team_A'], /watchNamespace/],
      [['logLevel=verbose'], /logLevel/],
      [['replicaz=2'], /replicaz/],
      [['image.pullPolicy=Sometimes'], /pullPolicy/],
      [['metrics.port=70000'], /metrics.*port|port.*metrics/],
      [['heapPercent=95'], /heapPercent/],
      [['liteMode=maybe'], /liteMode/],
    ];
    for (const [set, name] of cases) {
      const r = await run(['template', 'x', CHART_DIR, ...set.flatMap((s) => ['--set', s])]);
      assert.notEqual(r.code, 0, `${set.join(' ')} was accepted`);
      assert.match(r.stderr, name, `${set.join(' ')}: the error does not name the value:\n${r.stderr}`);
    }
  });

  it('ServiceMonitor: rendered only when asked, and only where its CRD exists', async () => {
    assert.equal(find(await render(), 'ServiceMonitor').length, 0);
    const r = await run(['template', 'x', CHART_DIR, '--set', 'metrics.serviceMonitor.enabled=true']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /metrics\.serviceMonitor\.enabled.*ServiceMonitor/);
    const objs = await render(
      ['metrics.serviceMonitor.enabled=true'],
      ['--api-versions', 'monitoring.coreos.com/v1/ServiceMonitor'],
    );
    const [sm] = find(objs, 'ServiceMonitor');
    assert.equal(sm?.spec.endpoints[0].port, 'metrics');
  });
});
