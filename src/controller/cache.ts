// The operator's view of the cluster: one informer per kind it reads, and a mapping from every change back to the
// EMQX resource it belongs to. Owned objects are watched through the `apps.emqx.io/managed-by` label, so the cache
// never holds other workloads' Secrets or Pods; other managers' managedFields entries are dropped (k8s/trim.ts).
import { deepEqual } from '../api/json.ts';
import { LABEL_INSTANCE, LABEL_MANAGED_BY, MANAGED_BY } from '../api/names.ts';
import type { EMQX, Rebalance } from '../api/types.ts';
import { Informer } from '../k8s/informer.ts';
import type { KubeClient, KubeObject } from '../k8s/rest.ts';
import { trimForCache } from '../k8s/trim.ts';
import { tlsSecretRefs } from '../resources/tls.ts';
import type { Logger } from '../observability/logger.ts';
import { defaultRegistry } from '../observability/metrics.ts';

const wakeups = defaultRegistry.counter({
  name: 'emqx_operator_cache_wakeups_total',
  help: 'Changes seen by the informers that queue an EMQX or Rebalance resource, by the kind that changed.',
  labelNames: ['kind'],
});

/** Kinds the operator owns and watches, by a short name. */
export const OWNED_KINDS = {
  StatefulSet: { apiVersion: 'apps/v1', kind: 'StatefulSet' },
  ReplicaSet: { apiVersion: 'apps/v1', kind: 'ReplicaSet' },
  Pod: { apiVersion: 'v1', kind: 'Pod' },
  Service: { apiVersion: 'v1', kind: 'Service' },
  ConfigMap: { apiVersion: 'v1', kind: 'ConfigMap' },
  Secret: { apiVersion: 'v1', kind: 'Secret' },
  PersistentVolumeClaim: { apiVersion: 'v1', kind: 'PersistentVolumeClaim' },
  PodDisruptionBudget: { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget' },
  ServiceAccount: { apiVersion: 'v1', kind: 'ServiceAccount' },
  Role: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role' },
  RoleBinding: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' },
} as const;
export type OwnedKind = keyof typeof OWNED_KINDS;

export const EMQX_KIND = { apiVersion: 'apps.emqx.io/v2beta1', kind: 'EMQX' } as const;
export const REBALANCE_KIND = { apiVersion: 'apps.emqx.io/v2beta1', kind: 'Rebalance' } as const;

/** True unless only the status (or resourceVersion/managedFields) changed. */
export function specOrMetaChanged(obj: KubeObject, old: KubeObject): boolean {
  const a = obj.metadata ?? {};
  const b = old.metadata ?? {};
  return (
    a.generation !== b.generation ||
    a.deletionTimestamp !== b.deletionTimestamp ||
    !deepEqual(a.labels ?? {}, b.labels ?? {}) ||
    !deepEqual(a.annotations ?? {}, b.annotations ?? {}) ||
    !deepEqual(a.finalizers ?? [], b.finalizers ?? [])
  );
}

export type ChangeListener = (kind: 'EMQX' | 'Rebalance', key: string) => void;

/** A TLS Secret as the cache keeps it: who it is and its version, never its data (no key material in memory). */
export function tlsSecretIdentity(obj: KubeObject): KubeObject {
  const m = obj.metadata ?? {};
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion },
  };
}

/**
 * Every `kubernetes.io/tls` Secret (the type cert-manager writes and `kubectl create secret tls` makes), kept as
 * name and version only: a change to a Secret spec.tls names wakes the EMQX resources that name it, so a
 * renewal is seen when it happens (new serial in the status, the CertificateRotated Event) rather than at the next
 * periodic pass. The listeners and dashboard Secrets must have that type for this; a client-CA Secret of another
 * type is read again at every pass.
 */
function tlsSecretInformer(
  client: KubeClient,
  opts: { namespace: string | undefined; logger: Logger },
  changed: (namespace: string, secretName: string) => void,
): Informer {
  const inf = new Informer(client, {
    apiVersion: 'v1',
    kind: 'Secret',
    namespace: opts.namespace,
    fieldSelector: 'type=kubernetes.io/tls',
    logger: opts.logger,
    transform: tlsSecretIdentity,
  });
  const notify = (obj: KubeObject) => {
    if (obj.metadata?.namespace && obj.metadata.name) changed(obj.metadata.namespace, obj.metadata.name);
  };
  inf.onAdd(notify);
  inf.onUpdate(notify);
  inf.onDelete(notify);
  return inf;
}

/**
 * The informers of one kind: one for all namespaces, or one per watched namespace (an operator shard, `run
 * --namespace a,b`), read as one.
 */
class Informers<T extends KubeObject = KubeObject> {
  readonly all: Informer<T>[];
  private readonly byNamespace = new Map<string, Informer<T>>();

  constructor(
    make: (namespace: string | undefined) => Informer<T>,
    namespaces: readonly string[] | undefined,
  ) {
    this.all = (namespaces ?? [undefined]).map((ns) => {
      const inf = make(ns);
      if (ns !== undefined) this.byNamespace.set(ns, inf);
      return inf;
    });
  }

  private of(namespace: string): Informer<T> | undefined {
    return this.byNamespace.size === 0 ? this.all[0] : this.byNamespace.get(namespace);
  }

  get(namespace: string, name: string): T | undefined {
    return this.of(namespace)?.get(namespace, name);
  }

  list(namespace?: string): T[] {
    if (namespace !== undefined) return this.of(namespace)?.list(namespace) ?? [];
    return this.all.flatMap((i) => i.list());
  }

  onAdd(h: (obj: T) => void): void {
    for (const i of this.all) i.onAdd(h);
  }
  onUpdate(h: (obj: T, old: T | undefined) => void): void {
    for (const i of this.all) i.onUpdate(h);
  }
  onDelete(h: (obj: T) => void): void {
    for (const i of this.all) i.onDelete(h);
  }
}

export class ClusterCache {
  private readonly owned = new Map<OwnedKind, Informers>();
  private readonly emqxInformer: Informers<EMQX & KubeObject>;
  private readonly rebalanceInformer: Informers<Rebalance & KubeObject>;
  private readonly tlsSecrets: Informers;
  private readonly listeners = new Set<ChangeListener>();
  /** Set once every informer has synced; listeners hear nothing before (see start). */
  private synced = false;

  /** `namespaces`: watch only these (one list+watch per kind and namespace); default all. */
  constructor(client: KubeClient, opts: { namespaces?: readonly string[]; logger: Logger }) {
    const selector = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;
    const namespaces = opts.namespaces && opts.namespaces.length > 0 ? opts.namespaces : undefined;
    for (const [name, ref] of Object.entries(OWNED_KINDS) as [OwnedKind, (typeof OWNED_KINDS)[OwnedKind]][]) {
      const inf = new Informers(
        (namespace) =>
          new Informer(client, {
            ...ref,
            namespace,
            labelSelector: selector,
            logger: opts.logger,
            transform: trimForCache,
          }),
        namespaces,
      );
      const notify = (obj: KubeObject) => {
        const instance = obj.metadata?.labels?.[LABEL_INSTANCE];
        if (instance && obj.metadata?.namespace)
          this.emit('EMQX', `${obj.metadata.namespace}/${instance}`, name);
      };
      inf.onAdd(notify);
      inf.onUpdate(notify);
      inf.onDelete(notify);
      this.owned.set(name, inf);
    }
    this.emqxInformer = new Informers(
      (namespace) =>
        new Informer<EMQX & KubeObject>(client, {
          ...EMQX_KIND,
          namespace,
          logger: opts.logger,
          transform: trimForCache,
        }),
      namespaces,
    );
    this.rebalanceInformer = new Informers(
      (namespace) =>
        new Informer<Rebalance & KubeObject>(client, {
          ...REBALANCE_KIND,
          namespace,
          logger: opts.logger,
          transform: trimForCache,
        }),
      namespaces,
    );
    const emqxChanged = (obj: KubeObject) => {
      const key = `${obj.metadata?.namespace}/${obj.metadata?.name}`;
      this.emit('EMQX', key, 'EMQX');
      // Rebalances follow their EMQX's readiness.
      for (const r of obj.metadata?.namespace ? this.rebalanceInformer.list(obj.metadata.namespace) : []) {
        if (r.spec?.instanceName === obj.metadata?.name)
          this.emit('Rebalance', `${r.metadata?.namespace}/${r.metadata?.name}`, 'EMQX');
      }
    };
    this.emqxInformer.onAdd(emqxChanged);
    // The operator's own status writes must not trigger another pass (that would loop): only spec (generation),
    // labels, annotations (pause) and deletion count.
    this.emqxInformer.onUpdate((obj, old) => {
      if (!old || specOrMetaChanged(obj, old)) emqxChanged(obj);
    });
    this.emqxInformer.onDelete(emqxChanged);
    const rebalanceChanged = (obj: KubeObject) =>
      this.emit('Rebalance', `${obj.metadata?.namespace}/${obj.metadata?.name}`, 'Rebalance');
    this.rebalanceInformer.onAdd(rebalanceChanged);
    this.rebalanceInformer.onUpdate((obj, old) => {
      if (!old || specOrMetaChanged(obj, old)) rebalanceChanged(obj);
    });
    this.rebalanceInformer.onDelete(rebalanceChanged);
    const tlsSecretChanged = (ns: string, secretName: string) => {
      for (const e of this.emqxInformer.list(ns)) {
        if (tlsSecretRefs(e).some((r) => r.secretName === secretName))
          this.emit('EMQX', `${ns}/${e.metadata.name}`, 'TLSSecret');
      }
    };
    this.tlsSecrets = new Informers(
      (namespace) => tlsSecretInformer(client, { namespace, logger: opts.logger }, tlsSecretChanged),
      namespaces,
    );
  }

  /** `cause`: the kind whose change wakes the resource (the wake-ups metric). */
  private emit(kind: 'EMQX' | 'Rebalance', key: string, cause: string): void {
    if (!this.synced) return;
    wakeups.inc({ kind: cause });
    for (const l of this.listeners) l(kind, key);
  }

  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private informers(): Informer[] {
    return [this.emqxInformer, this.rebalanceInformer, this.tlsSecrets, ...this.owned.values()].flatMap(
      (i) => i.all as Informer[],
    );
  }

  /**
   * Starts every informer and resolves once all have synced. Change listeners hear nothing before that: the EMQX
   * list can arrive before the Secrets', and a pass run then sees a cluster without its Secrets, Pods and Services
   * (it would make a new cookie and API key under a running cluster, and replace nodes it cannot see). The caller
   * enqueues every resource once start() resolves.
   */
  async start(): Promise<void> {
    const all = this.informers();
    await Promise.all(all.map((i) => i.start()));
    await Promise.all(all.map((i) => i.synced));
    this.synced = true;
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers().map((i) => i.stop()));
  }

  emqx(namespace: string, name: string): EMQX | undefined {
    return this.emqxInformer.get(namespace, name);
  }

  emqxList(): EMQX[] {
    return this.emqxInformer.list();
  }

  rebalance(namespace: string, name: string): Rebalance | undefined {
    return this.rebalanceInformer.get(namespace, name);
  }

  rebalanceList(): Rebalance[] {
    return this.rebalanceInformer.list();
  }

  get<T>(kind: OwnedKind, namespace: string, name: string): T | undefined {
    return this.owned.get(kind)!.get(namespace, name) as T | undefined;
  }

  /** Objects of `kind` that belong to the EMQX `instance` (by the instance label). */
  ownedBy<T>(kind: OwnedKind, namespace: string, instance: string): T[] {
    return this.owned
      .get(kind)!
      .list(namespace)
      .filter((o) => o.metadata?.labels?.[LABEL_INSTANCE] === instance) as T[];
  }
}
