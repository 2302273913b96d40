// Workloads of an EMQX resource that this operator did not create: typically those the Go operator
// (emqx/emqx-operator) left running when a user switched operators. Both operators label their children the same way
// (apps.emqx.io/instance, apps.emqx.io/managed-by=emqx-operator) and the EMQX resource keeps its uid, so the cache
// finds them as this resource's own. Acting on them would be destructive: the Go operator's `<name>-core-<hash>`
// pods would look "old" and be drained and deleted one by one while its StatefulSet recreates them.
//
// Pure: the controller passes the StatefulSets and ReplicaSets it sees for the resource and, when this returns any,
// changes nothing, reports Ready=False (reason ForeignWorkloads) and sends one Event saying how to proceed
// (README: "Migrating from the Go operator").
import { compareText } from './order.ts';
import { ANNOTATION_TAKEOVER, FIELD_MANAGER } from '../api/names.ts';

/** The Go operator's patch base, written on every child it creates or updates. */
export const ANNOTATION_GO_LAST_APPLIED = 'apps.emqx.io/last-applied';
export const REASON_FOREIGN_WORKLOADS = 'ForeignWorkloads';

interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  /** When the manager last wrote (RFC 3339, seconds). */
  time?: string | Date;
}

export interface WorkloadLike {
  kind?: string;
  metadata?: {
    name?: string;
    annotations?: Record<string, string>;
    managedFields?: ManagedFieldsEntry[];
  };
}

export interface ForeignWorkload {
  kind: string;
  name: string;
  /** Why it counts as foreign, for the message. */
  reasons: string[];
}

/**
 * The workloads among `objects` (StatefulSets and ReplicaSets of one EMQX resource) this operator did not create.
 * An object counts as foreign when it carries the Go operator's `apps.emqx.io/last-applied` annotation, or when its
 * managedFields name other managers for its spec and never this operator's (which writes every workload with
 * server-side apply). An object without managedFields and without that annotation cannot be told apart and is left
 * out: this never flags what the operator made itself.
 */
export function detectForeignWorkloads(objects: WorkloadLike[]): ForeignWorkload[] {
  const out: ForeignWorkload[] = [];
  for (const o of objects) {
    const reasons: string[] = [];
    if (o.metadata?.annotations?.[ANNOTATION_GO_LAST_APPLIED] !== undefined)
      reasons.push(`it carries ${ANNOTATION_GO_LAST_APPLIED}, the Go operator's annotation`);
    const entries = o.metadata?.managedFields ?? [];
    // A takeover scales the other operator's sets through their scale subresource, which makes this operator one
    // of their managers: only a write of the whole object (server-side apply) makes a set this operator's own.
    if (entries.length > 0 && !entries.some((e) => e.manager === FIELD_MANAGER && !e.subresource)) {
      const writers = [
        ...new Set(entries.filter((e) => e.subresource !== 'status').map((e) => e.manager ?? '?')),
      ].sort();
      if (writers.length > 0)
        reasons.push(`it was written by ${writers.join(', ')}, never by ${FIELD_MANAGER}`);
    }
    if (reasons.length > 0) out.push({ kind: o.kind ?? 'object', name: o.metadata?.name ?? '?', reasons });
  }
  return out.sort((a, b) => compareText(`${a.kind}/${a.name}`, `${b.kind}/${b.name}`));
}

/** The Ready condition's and the Event's message: what was found, what the operator does, what the user can do. */
export function foreignWorkloadsMessage(emqxName: string, foreign: readonly ForeignWorkload[]): string {
  return (
    `${describe(foreign)}: not created by this operator (the Go emqx-operator names its sets ${emqxName}-core-<hash> ` +
    `and ${emqxName}-replicant-<hash>). Nothing of this cluster is changed while they exist. To hand it over, stop ` +
    `the Go operator, then annotate this resource ${ANNOTATION_TAKEOVER}="true" (README "Migrating from the Go ` +
    'operator"); or reinstall the Go operator and its CRDs to keep running it.'
  );
}

function describe(foreign: readonly ForeignWorkload[]): string {
  const shown = foreign.slice(0, 4).map((f) => `${f.kind} ${f.name} (${f.reasons.join('; ')})`);
  if (foreign.length > shown.length) shown.push(`and ${foreign.length - shown.length} more`);
  return shown.join(', ');
}

/** The Go operator's leader-election Lease (controller-runtime, in the namespace it runs in). */
export const GO_OPERATOR_LEASE = '19fd6fcc.emqx.io';
export const REASON_GO_OPERATOR_RUNNING = 'GoOperatorRunning';

/** What observe read of the Go operator's Leases (every namespace). */
export type GoOperatorLeases =
  | {
      ok: true;
      leases: ReadonlyArray<{
        namespace: string;
        holder?: string;
        renewTime?: string;
        durationSeconds?: number;
      }>;
    }
  | { ok: false; error: string };

/**
 * Whether the Go operator may still be running, from its Leases: one held and renewed within its lease duration
 * (15 s when unset, controller-runtime's default) means yes. A Lease that could not be read means "cannot tell",
 * which counts as running: taking over under a live Go operator would be the loop the takeover exists to avoid.
 * Returns the reason, or undefined when it is stopped.
 */
export function goOperatorRunning(leases: GoOperatorLeases, now: Date): string | undefined {
  if (!leases.ok)
    return `cannot tell whether the Go emqx-operator still runs (reading its Lease ${GO_OPERATOR_LEASE}: ${leases.error})`;
  for (const l of leases.leases) {
    if (!l.holder || !l.renewTime) continue;
    const age = (now.getTime() - Date.parse(l.renewTime)) / 1000;
    if (age < (l.durationSeconds ?? 15))
      return `the Go emqx-operator still runs: its Lease ${l.namespace}/${GO_OPERATOR_LEASE} is held by ${l.holder}, renewed ${Math.max(0, Math.round(age))}s ago`;
  }
  return undefined;
}

/**
 * During a takeover, whether another manager wrote one of the Go operator's sets after this operator last did (its
 * scale-downs): the Go operator, or something else, still runs it. Returns the reason, or undefined.
 */
export function writtenAfterTakeover(objects: readonly WorkloadLike[]): string | undefined {
  const at = (e: ManagedFieldsEntry) => (e.time ? new Date(e.time).getTime() : 0);
  for (const o of objects) {
    const entries = o.metadata?.managedFields ?? [];
    const ours = Math.max(0, ...entries.filter((e) => e.manager === FIELD_MANAGER).map(at));
    if (ours === 0) continue;
    const later = entries.find(
      (e) => e.manager !== FIELD_MANAGER && e.subresource !== 'status' && at(e) > ours,
    );
    if (later)
      return `${later.manager ?? 'another manager'} wrote ${o.kind ?? 'object'} ${o.metadata?.name} at ${new Date(at(later)).toISOString()}, after this operator scaled it down`;
  }
  return undefined;
}

/** The message while a takeover waits for the Go operator to stop. */
export function goOperatorRunningMessage(why: string, foreign: readonly ForeignWorkload[]): string {
  return (
    `takeover requested (${ANNOTATION_TAKEOVER}), but ${why}. Stop it first (scale its Deployment to 0 or uninstall ` +
    `it, keeping the CRDs); nothing is changed until then. Waiting to take over ${describe(foreign)}.`
  );
}
