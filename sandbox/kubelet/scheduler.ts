// Node choice for pending pods: a small, deterministic subset of kube-scheduler. Filters: node Ready and
// schedulable, taints vs tolerations (NoSchedule/NoExecute), nodeSelector, required node affinity, required pod
// affinity and anti-affinity (both directions for anti-affinity) on any topology key. Score: fewest pods of the
// same controller, then fewest pods, then node name. Not modelled: resources, topologySpreadConstraints,
// preferred (soft) terms, volume topology.
import type {
  V1LabelSelector,
  V1Node,
  V1NodeSelectorRequirement,
  V1NodeSelectorTerm,
  V1Pod,
  V1PodAffinityTerm,
  V1Taint,
  V1Toleration,
} from '@kubernetes/client-node';

type Labels = Record<string, string>;

function matchExpression(labels: Labels, e: { key: string; operator: string; values?: string[] }): boolean {
  const has = Object.hasOwn(labels, e.key);
  const v = labels[e.key];
  switch (e.operator) {
    case 'In':
      return has && (e.values ?? []).includes(v);
    case 'NotIn':
      return !has || !(e.values ?? []).includes(v);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
      return has && Number(v) > Number(e.values?.[0]);
    case 'Lt':
      return has && Number(v) < Number(e.values?.[0]);
    default:
      return false;
  }
}

/** A metav1.LabelSelector: an empty selector matches everything, a missing one nothing. */
export function matchesSelector(selector: V1LabelSelector | undefined, labels: Labels | undefined): boolean {
  if (!selector) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  return (selector.matchExpressions ?? []).every((e) => matchExpression(l, e));
}

function nodeTermMatches(term: V1NodeSelectorTerm, node: V1Node): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  const labels = node.metadata?.labels ?? {};
  const fieldLabels: Labels = { 'metadata.name': node.metadata?.name ?? '' };
  return (
    exprs.every((e: V1NodeSelectorRequirement) => matchExpression(labels, e)) &&
    fields.every((e: V1NodeSelectorRequirement) => matchExpression(fieldLabels, e))
  );
}

function tolerates(tolerations: V1Toleration[], taint: V1Taint): boolean {
  return tolerations.some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (!t.key) return t.operator === 'Exists';
    if (t.key !== taint.key) return false;
    return t.operator === 'Exists' || (t.value ?? '') === (taint.value ?? '');
  });
}

export function nodeReady(node: V1Node): boolean {
  return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

function termNamespaces(term: V1PodAffinityTerm, ownerNs: string): (ns: string) => boolean {
  // namespaceSelector {} means all namespaces; a non-empty one is approximated as "own namespace" (namespace
  // labels are not watched).
  if (term.namespaceSelector && Object.keys(term.namespaceSelector).length === 0) return () => true;
  const list = term.namespaces && term.namespaces.length > 0 ? term.namespaces : [ownerNs];
  return (ns) => list.includes(ns);
}

function termMatchesPod(term: V1PodAffinityTerm, ownerNs: string, pod: V1Pod): boolean {
  return (
    termNamespaces(term, ownerNs)(pod.metadata?.namespace ?? '') &&
    matchesSelector(term.labelSelector, pod.metadata?.labels)
  );
}

export interface Choice {
  node?: string;
  /** Why no node fits (the scheduler's FailedScheduling message). */
  reason?: string;
}

/**
 * Picks a node for `pod`. `placed` are the pods already on nodes (or being bound), excluding terminal ones.
 */
export function chooseNode(pod: V1Pod, nodes: readonly V1Node[], placed: readonly V1Pod[]): Choice {
  const ns = pod.metadata?.namespace ?? 'default';
  const spec = pod.spec ?? { containers: [] };
  const nodeByName = new Map(nodes.map((n) => [n.metadata?.name ?? '', n]));
  const topo = (nodeName: string | undefined, key: string) =>
    nodeByName.get(nodeName ?? '')?.metadata?.labels?.[key];
  const others = placed.filter((p) => p.metadata?.uid !== pod.metadata?.uid && p.spec?.nodeName);
  const rejected: Record<string, number> = {};
  const reject = (why: string) => {
    rejected[why] = (rejected[why] ?? 0) + 1;
    return false;
  };

  const fits = (node: V1Node): boolean => {
    const name = node.metadata?.name ?? '';
    const labels = node.metadata?.labels ?? {};
    if (!nodeReady(node)) return reject('node(s) were not ready');
    if (node.spec?.unschedulable) return reject('node(s) were unschedulable');
    const taints = (node.spec?.taints ?? []).filter(
      (t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute',
    );
    if (taints.some((t) => !tolerates(spec.tolerations ?? [], t)))
      return reject('node(s) had untolerated taint(s)');
    for (const [k, v] of Object.entries(spec.nodeSelector ?? {})) {
      if (labels[k] !== v) return reject("node(s) didn't match Pod's node affinity/selector");
    }
    const required = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
    if (required && !required.nodeSelectorTerms.some((t) => nodeTermMatches(t, node))) {
      return reject("node(s) didn't match Pod's node affinity/selector");
    }
    // Required anti-affinity of the new pod.
    for (const term of spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) {
      const domain = labels[term.topologyKey];
      if (domain === undefined) continue;
      if (
        others.some((o) => termMatchesPod(term, ns, o) && topo(o.spec?.nodeName, term.topologyKey) === domain)
      ) {
        return reject("node(s) didn't match pod anti-affinity rules");
      }
    }
    // Required anti-affinity of pods already placed, against the new pod.
    for (const o of others) {
      const oNs = o.metadata?.namespace ?? 'default';
      for (const term of o.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ??
        []) {
        const domain = labels[term.topologyKey];
        if (domain === undefined) continue;
        if (termMatchesPod(term, oNs, pod) && topo(o.spec?.nodeName, term.topologyKey) === domain) {
          return reject("node(s) didn't satisfy existing pods anti-affinity rules");
        }
      }
    }
    // Required affinity: some matching pod in the same domain (or none anywhere and the pod matches itself).
    for (const term of spec.affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []) {
      const domain = labels[term.topologyKey];
      const matching = others.filter((o) => termMatchesPod(term, ns, o));
      if (matching.length === 0 && termMatchesPod(term, ns, pod)) continue;
      if (
        domain === undefined ||
        !matching.some((o) => topo(o.spec?.nodeName, term.topologyKey) === domain)
      ) {
        return reject("node(s) didn't match pod affinity rules");
      }
    }
    void name;
    return true;
  };

  const candidates = nodes.filter(fits);
  if (candidates.length === 0) {
    const reasons = Object.entries(rejected)
      .map(([why, n]) => `${n} ${why}`)
      .join(', ');
    return { reason: `0/${nodes.length} nodes are available${reasons ? `: ${reasons}` : ''}.` };
  }
  const owner = pod.metadata?.ownerReferences?.find((r) => r.controller)?.uid;
  const score = (node: V1Node) => {
    const on = others.filter((o) => o.spec?.nodeName === node.metadata?.name);
    const siblings = owner
      ? on.filter((o) => o.metadata?.ownerReferences?.some((r) => r.uid === owner)).length
      : 0;
    return [siblings, on.length] as const;
  };
  candidates.sort((a, b) => {
    const [sa, ta] = score(a);
    const [sb, tb] = score(b);
    return sa - sb || ta - tb || (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '');
  });
  return { node: candidates[0].metadata?.name };
}
