// End to end, as a user installs it: `helm install` of charts/emqx-operator into a sandbox, the operator running as
// pods of the Deployment (the kubelet emulator runs the real program from this working tree, with in-cluster
// configuration: a TokenRequest token for its ServiceAccount, the CA bundle, KUBERNETES_SERVICE_HOST/PORT). Then:
// two replicas Ready, one leading; a killed operator process restarted by the kubelet → the API server converts
// v2alpha1 through the webhook Service → an EMQX cluster Ready → `helm upgrade` to a new operator version while an
// EMQX upgrade is in progress, which the new pods finish → the leading pod deleted, another replica takes over →
// `helm uninstall` leaves the EMQX cluster running, data kept.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createEmqxHandler } from '../sandbox/emqx/index.ts';
import {
  CHART_DIR as CHART,
  HELM_NAMESPACE as NS,
  HELM_RELEASE as RELEASE,
  installArgs,
  sandboxHelm,
  type Helm,
} from '../sandbox/operator-helm.ts';
import { example, listPods, waitReady } from './support/emqx.ts';
import {
  applyMinimalServedAsV2alpha1,
  isReady,
  operatorPods,
  operatorProcesses,
} from './support/helm-operator.ts';
import { useSandbox } from './support/sandbox.ts';
import { pvcs, waitAllOnVersion } from './support/upgrade.ts';

const emqx = createEmqxHandler({ timeScale: 10 });
const sb = useSandbox({ handlers: [emqx] });
let helm: Helm;

before(async () => {
  // node:test runs a file's top-level before() hooks concurrently: wait for the sandbox's own hook.
  await sb.started();
  helm = await sandboxHelm(sb.sandbox, (l) => process.stderr.write(l + '\n'));
});

async function leaseHolder(): Promise<string | undefined> {
  const lease = (await sb.api.get(
    `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/emqx-operator-leader`,
  )) as any;
  return lease.spec?.holderIdentity;
}

/** The operator pod whose name the Lease holder identity starts with (identity = $POD_NAME + '_' + a random suffix). */
async function leader(pods: any[]): Promise<any | undefined> {
  const holder = await leaseHolder().catch(() => undefined);
  return holder ? pods.find((p) => holder.startsWith(`${p.metadata.name}_`)) : undefined;
}

describe('helm install / upgrade / uninstall of charts/emqx-operator', () => {
  it('runs the operator as pods with in-cluster configuration and survives upgrade, failover and uninstall', async (t) => {
    // ---- install
    const out = await helm(installArgs()); // the README's command line
    assert.match(out, /STATUS: deployed/);
    assert.match(
      out,
      /kubectl -n emqx-operator-system rollout status deployment\/emqx-operator/,
      'NOTES.txt',
    );
    const first = await sb.waitFor(
      'two Ready operator pods, one of them leading',
      async () => {
        const pods = (await operatorPods(sb)).filter(isReady);
        return pods.length === 2 && (await leader(pods)) ? pods : undefined;
      },
      120_000,
      500,
    );
    assert.ok(first.every((p) => p.spec.containers[0].image === 'emqx-operator:0.1.0'));
    const firstLeader = (await leader(first))!;
    t.diagnostic(`leader: ${firstLeader.metadata.name}`);

    // Inside the container: the pod's user and host name, the projected volume at its in-cluster path.
    const c = sb.sandbox.kubelet.container(NS, firstLeader.metadata.name, 'operator')!;
    const sh = async (cmd: string[]) => {
      const r = await c.exec(cmd, 5000);
      assert.equal(r.exitCode, 0, `${cmd.join(' ')}: ${r.stderr}`);
      return r.stdout.trim();
    };
    assert.equal(await sh(['id', '-u']), '65532');
    assert.equal(await sh(['hostname']), firstLeader.metadata.name);
    assert.equal(await sh(['cat', '/var/run/secrets/kubernetes.io/serviceaccount/namespace']), NS);
    assert.match(
      await sh(['cat', '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt']),
      /BEGIN CERTIFICATE/,
    );
    const jwt = await sh(['cat', '/var/run/secrets/kubernetes.io/serviceaccount/token']);
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'));
    assert.equal(claims.sub, `system:serviceaccount:${NS}:emqx-operator`);
    assert.equal(
      claims['kubernetes.io'].pod.name,
      firstLeader.metadata.name,
      'the token is bound to the pod',
    );

    // A crash of the program (SIGKILL of its process, found by its pod IP): the kubelet restarts the container
    // (restartCount 1, last state exit 137) and the pod is Ready again; the leader is not disturbed.
    const standby0 = first.find((p) => p.metadata.name !== firstLeader.metadata.name)!;
    const proc = operatorProcesses().find((p) => p.cmd.some((a) => a.includes(`=${standby0.status.podIP}:`)));
    assert.ok(proc, `the process of ${standby0.metadata.name}`);
    // Started by the image's entry point: the heap cap is half the chart's 256Mi limit (Downward API).
    assert.ok(proc.cmd.includes('--max-old-space-size=128'), proc.cmd.join(' '));
    process.kill(proc.pid, 'SIGKILL');
    const restarted = await sb.waitFor(
      `${standby0.metadata.name} restarted after its process was killed, and Ready`,
      async () => {
        const p = (await sb.api.get(`/api/v1/namespaces/${NS}/pods/${standby0.metadata.name}`)) as any;
        const cs = p.status.containerStatuses?.[0];
        return cs?.restartCount === 1 && isReady(p) ? cs : undefined;
      },
      60_000,
      250,
    );
    assert.equal(restarted.lastState.terminated.exitCode, 137);
    assert.ok((await leaseHolder())?.startsWith(`${firstLeader.metadata.name}_`));

    // The token is a real ServiceAccount token: the operator authenticated as its ServiceAccount (the Lease was
    // written by it, as the managedFields say).
    const lease = (await sb.api.get(
      `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/emqx-operator-leader`,
    )) as any;
    assert.ok(lease.metadata.managedFields?.length > 0);

    // The API server converts through the webhook Service (aggregator routing to a Ready pod's IP).
    const ns = await sb.newNamespace(t);
    const alpha = await applyMinimalServedAsV2alpha1(sb, ns, 'conversion webhook through its Service');
    assert.equal(alpha.apiVersion, 'apps.emqx.io/v2alpha1');

    // ---- an EMQX cluster, made Ready by the operator in its pod
    await waitReady(sb, ns, 'emqx', 180_000);
    const pvcsBefore = await pvcs(sb, ns);
    assert.equal(pvcsBefore.length, 2);

    // ---- helm upgrade to a new operator version while an EMQX upgrade is in progress
    await sb.api.patch(
      `/apis/apps.emqx.io/v2beta1/namespaces/${ns}/emqxes/emqx`,
      { spec: { image: 'emqx/emqx:5.8.4' } },
      'application/merge-patch+json',
    );
    await sb.waitFor(
      'the EMQX upgrade under way (a 5.8.4 pod exists)',
      async () => (await listPods(sb, ns)).some((p) => p.spec.containers[0].image.endsWith(':5.8.4')),
      60_000,
      200,
    );
    const e0 = (await sb.api.get(`/apis/apps.emqx.io/v2beta1/namespaces/${ns}/emqxes/emqx`)) as any;
    assert.notEqual(
      e0.status?.phase,
      'Ready',
      'the upgrade is still in progress when the operator is upgraded',
    );
    await helm([
      'upgrade',
      RELEASE,
      CHART,
      '--namespace',
      NS,
      '--reuse-values',
      '--set',
      'image.tag=0.1.1',
      '--wait',
      '--timeout',
      '3m',
    ]);
    const upgraded = await sb.waitFor(
      'two Ready operator pods of 0.1.1, the old ones gone, one leading',
      async () => {
        const pods = await operatorPods(sb);
        const ready = pods.filter(isReady);
        return pods.length === 2 &&
          ready.length === 2 &&
          ready.every((p) => p.spec.containers[0].image === 'emqx-operator:0.1.1') &&
          (await leader(ready))
          ? ready
          : undefined;
      },
      180_000,
      500,
    );
    await waitAllOnVersion(sb, ns, '5.8.4', 240_000);
    // After helm upgrade re-applied the CRDs, conversion still works: the CA bundle is set (Helm's three-way merge
    // leaves it; the new leader also registers it again) and v2alpha1 is served.
    const crd = (await sb.api.get(
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/emqxes.apps.emqx.io',
    )) as any;
    assert.ok(crd.spec.conversion.webhook.clientConfig.caBundle, 'caBundle set after helm upgrade');
    assert.equal(
      ((await sb.api.get(`/apis/apps.emqx.io/v2alpha1/namespaces/${ns}/emqxes/emqx`)) as any).apiVersion,
      'apps.emqx.io/v2alpha1',
    );
    const newLeader = (await leader(upgraded))!;
    t.diagnostic(`leader after helm upgrade: ${newLeader.metadata.name}`);

    // ---- delete the leading pod: another replica takes over. On SIGTERM the leader gives the Lease up, so the
    // standby and the Deployment's replacement pod race for it, as in a real cluster; either is a take-over.
    await sb.api.delete(`/api/v1/namespaces/${NS}/pods/${newLeader.metadata.name}`);
    const successor = await sb.waitFor(
      `another operator pod leading after ${newLeader.metadata.name} was deleted`,
      async () => {
        const live = (await operatorPods(sb)).filter(isReady);
        const l = await leader(live);
        return l && l.metadata.name !== newLeader.metadata.name ? l : undefined;
      },
      90_000,
      500,
    );
    t.diagnostic(
      `leader after deleting ${newLeader.metadata.name}: ${successor.metadata.name} (${
        upgraded.some((p) => p.metadata.name === successor.metadata.name)
          ? 'the standby'
          : 'the replacement pod'
      })`,
    );
    // and it reconciles: a change made now is carried out
    await sb.api.patch(
      `/apis/apps.emqx.io/v2beta1/namespaces/${ns}/emqxes/emqx`,
      { spec: { dashboardServiceTemplate: { metadata: { labels: { 'taken-over-by': 'standby' } } } } },
      'application/merge-patch+json',
    );
    await sb.waitFor(
      'the dashboard Service relabelled by the new leader',
      async () =>
        ((await sb.api.get(`/api/v1/namespaces/${ns}/services/emqx-dashboard`)) as any).metadata.labels?.[
          'taken-over-by'
        ] === 'standby',
      60_000,
      500,
    );
    await waitReady(sb, ns, 'emqx', 120_000);

    // ---- helm uninstall: the operator goes, EMQX and its data stay
    await helm(['uninstall', RELEASE, '--namespace', NS, '--wait', '--timeout', '2m']);
    await sb.waitFor('no operator pod left', async () => (await operatorPods(sb)).length === 0, 60_000, 500);
    const crds = (await sb.api.get('/apis/apiextensions.k8s.io/v1/customresourcedefinitions')) as any;
    assert.ok(
      crds.items.some((c: any) => c.metadata.name === 'emqxes.apps.emqx.io'),
      'the CRD is kept (helm.sh/resource-policy: keep)',
    );
    const after = (await sb.api.get(`/apis/apps.emqx.io/v2beta1/namespaces/${ns}/emqxes/emqx`)) as any;
    assert.equal(after.status.phase, 'Ready');
    const pods = await listPods(sb, ns);
    assert.equal(pods.length, 2, 'both cores');
    assert.ok(pods.every(isReady), 'every EMQX pod still Ready');
    assert.deepEqual(await pvcs(sb, ns), pvcsBefore, 'the same PVCs, bound to the same volumes');
  });

  it('watchNamespace: a second release limited to one namespace runs clusters there only, with a Role', async (t) => {
    // The CRDs are kept from the release above (its uninstall left them), so this release does not render them.
    const watched = await sb.newNamespace(t, 'watched');
    const other = await sb.newNamespace(t, 'other');
    const ns2 = 'team-op-system';
    await helm([
      'install',
      'team-op',
      CHART,
      '--namespace',
      ns2,
      '--create-namespace',
      '--set',
      `watchNamespace=${watched}`,
      '--set',
      'crds.install=false',
      '--set',
      'replicaCount=1',
      '--wait',
      '--timeout',
      '3m',
    ]);
    const bindings = (await sb.api.get('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings')) as any;
    assert.deepEqual(
      bindings.items
        .filter((b: any) => b.subjects?.some((s: any) => s.namespace === ns2))
        .map((b: any) => b.roleRef.name),
      ['team-op-emqx-operator-crds'],
      'the only cluster-wide grant is the CRD rule',
    );
    await sb.apply(example('minimal.yaml', watched));
    await sb.apply(example('minimal.yaml', other));
    await waitReady(sb, watched, 'emqx', 180_000);
    const untouched = (await sb.api.get(`/apis/apps.emqx.io/v2beta1/namespaces/${other}/emqxes/emqx`)) as any;
    assert.equal(untouched.status, undefined, 'the cluster outside the watched namespace is left alone');
    assert.equal((await listPods(sb, other)).length, 0);
    await helm(['uninstall', 'team-op', '--namespace', ns2, '--wait', '--timeout', '2m']);
  });
});
