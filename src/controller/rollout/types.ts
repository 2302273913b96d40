// What a rollout strategy decides, and the small shared vocabulary the strategies use. Strategies are pure: they
// read a Snapshot and the time of the pass, and return at most one action for the executor (src/controller/act.ts).
import type { V1Pod } from '@kubernetes/client-node';
import { coreNodeName, replicantNodeName } from '../../api/names.ts';
import type { NodeEvacuationStatus, UpdateProgress } from '../../api/types.ts';
import { clusterDomainOf } from '../../resources/metadata.ts';
import type { ApiNode } from '../pod-facts.ts';
import { podRole } from '../pod-facts.ts';
import type { RoleView, Snapshot } from '../snapshot.ts';

/** An Event to record on the EMQX resource. */
export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface ObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
}

export interface PodRef {
  name: string;
  uid: string;
}

/** A StatefulSet or ReplicaSet and the replica count to give it through its `scale` subresource. */
export interface ScaleTarget {
  set: ObjectRef;
  /** Replicas it has now (a scale to the same count is skipped). */
  from: number;
  replicas: number;
}

/** The one write a rollout pass makes (besides applying the desired objects), for the executor. */
export type RolloutAction =
  /** Stop evacuations EMQX resumed on up-to-date nodes after their restart. */
  | { kind: 'stopEvacuations'; nodes: string[]; events: PlannedEvent[] }
  /** Start moving the clients of `node` to `body.migrate_to`; mark its pod draining (stops serving). */
  | {
      kind: 'evacuate';
      node: string;
      pod: PodRef;
      body: Record<string, unknown>;
      /** The draining annotation to set, unless the pod carries it already. */
      markDraining?: string;
      /** With the draining annotation, the lowest pod-deletion-cost (a replicant: its ReplicaSet removes it first). */
      lowestDeletionCost?: boolean;
      events: PlannedEvent[];
    }
  /** No evacuation on this edition: the pod stops serving, and clients reconnect elsewhere. */
  | {
      kind: 'markDraining';
      node: string;
      pod: PodRef;
      since: string;
      lowestDeletionCost?: boolean;
      events: PlannedEvent[];
    }
  /**
   * The lowest pod-deletion-cost on a drained replicant, a pass before its ReplicaSet shrinks; with the draining
   * annotation (it stops serving) when it has none (a node with nothing to move is not drained first).
   */
  | { kind: 'markRetiring'; pod: PodRef; markDraining?: string; events: PlannedEvent[] }
  /** Delete a core pod so that its StatefulSet recreates it on the new revision (same name, same PVC). */
  | { kind: 'replacePod'; pod: PodRef; events: PlannedEvent[] }
  /**
   * Make `node` leave the cluster (when `leave`), asked through any other core (`exclude` is the API URL of the
   * node itself: EMQX refuses a force_leave of itself), then scale `scale` (when given).
   */
  | {
      kind: 'removeNode';
      node: string;
      leave: boolean;
      exclude?: string;
      scale?: ScaleTarget;
      events: PlannedEvent[];
    }
  /** Scale sets through their `scale` subresource. */
  | { kind: 'scale'; targets: ScaleTarget[]; events: PlannedEvent[] }
  /** Remove a drained replicant: lowest deletion cost on its pod, then its ReplicaSet one smaller. */
  | { kind: 'retireReplicant'; pod: PodRef; scale: ScaleTarget; events: PlannedEvent[] }
  /** Replicate a durable storage DB on exactly `sites` (`PUT /api/v5/ds/storages/{db}/replicas`). */
  | { kind: 'dsSetReplicas'; db: string; sites: string[]; events: PlannedEvent[] }
  /** Delete superseded sets beyond revisionHistoryLimit. */
  | { kind: 'prune'; objects: Array<ObjectRef & { uid: string }>; events: PlannedEvent[] };

/** What a rollout pass decided. */
export interface RolloutDecision {
  action?: RolloutAction;
  /** status.update. */
  update?: UpdateProgress;
  /** Per role: a rollout, scale-down or drain is going on (progressing), with a short description. */
  activity: { core?: string; replicant?: string };
  /** Replicas the current core StatefulSet is applied with (a scale-down holds it while a node leaves). */
  coreReplicas?: number;
  /** Come back soon: something is in progress. */
  requeue?: { afterMs: number; reason: string };
}

/** What strategies read: the snapshot and the time of this pass (never the clock). */
export interface RolloutInput {
  s: Snapshot;
  now: Date;
}

export const SOON = { afterMs: 1000, reason: 'rollout in progress' };
export const API_WAIT = { afterMs: 5000, reason: 'waiting for the EMQX API' };

/** A strategy's verdict: not its business (undefined: the next strategy runs), or stop here this pass. */
export type Verdict = undefined | { action?: RolloutAction; requeue?: { afterMs: number; reason: string } };

/** Records progress while strategies decide (local to one planning call). */
export class Progress {
  update?: UpdateProgress;
  activity: { core?: string; replicant?: string } = {};
  coreReplicas?: number;

  set(phase: string, node: string | undefined, message: string): void {
    this.update = { phase, ...(node && { node }), message };
    if (phase.includes('Replicant')) this.activity.replicant = message;
    else this.activity.core = message;
  }

  get phase(): string | undefined {
    return this.update?.phase;
  }
}

export function ordinal(pod: V1Pod): number {
  const m = /-(\d+)$/.exec(pod.metadata?.name ?? '');
  return m ? Number(m[1]) : -1;
}

export function podRef(pod: V1Pod): PodRef {
  return { name: pod.metadata!.name!, uid: pod.metadata!.uid! };
}

/** The EMQX node name of a pod: the stable DNS name for cores, the pod IP for replicants. */
export function nodeNameOf(s: Snapshot, pod: V1Pod): string {
  return podRole(pod) === 'replicant'
    ? replicantNodeName(pod.status?.podIP ?? '')
    : coreNodeName(s.emqx, pod.metadata!.name!, clusterDomainOf(s.emqx));
}

export function apiNode(s: Snapshot, node: string): ApiNode | undefined {
  return s.nodes?.find((n) => n.node === node);
}

export function evacuationOf(s: Snapshot, node: string): NodeEvacuationStatus | undefined {
  return s.evacuations?.find((e) => e.node === node);
}

/** Running nodes of the given pods, by EMQX node name. */
export function runningNodesOf(s: Snapshot, pods: readonly V1Pod[], view: RoleView): string[] {
  return pods.filter((p) => view.running.has(p.metadata!.name!)).map((p) => nodeNameOf(s, p));
}

export function createdAt(o: { metadata?: { creationTimestamp?: unknown } }): number {
  const t = o.metadata?.creationTimestamp;
  return t ? new Date(t as string).getTime() : 0;
}

export function scaleTarget(
  set: { apiVersion?: string; kind?: string; metadata?: { name?: string }; spec?: { replicas?: number } },
  replicas: number,
): ScaleTarget {
  return {
    set: { apiVersion: set.apiVersion ?? 'apps/v1', kind: set.kind!, name: set.metadata!.name! },
    from: set.spec?.replicas ?? 0,
    replicas,
  };
}

export function normal(reason: string, message: string): PlannedEvent {
  return { type: 'Normal', reason, message };
}
