// Pod status as a kubelet reports it, computed from what the emulator knows about the pod's containers. Pure: the
// pod worker turns the result into a strategic-merge patch of `pods/status`, written only when it changed.
import type { V1ContainerStatus, V1Pod, V1PodCondition } from '@kubernetes/client-node';

export type ContainerState =
  | { kind: 'waiting'; reason: string; message?: string }
  | { kind: 'running'; startedAt: string }
  | {
      kind: 'terminated';
      exitCode: number;
      reason: string;
      message?: string;
      startedAt?: string;
      finishedAt: string;
      containerID?: string;
    };

export interface ContainerView {
  name: string;
  image: string;
  containerID?: string;
  state: ContainerState;
  lastState?: ContainerState;
  ready: boolean;
  started: boolean;
  restartCount: number;
  /** False once the container is terminated for good (restart policy says so, or the pod is going away). */
  willRestart: boolean;
}

export interface PodView {
  podIP?: string;
  hostIP: string;
  startTime?: string;
  /** IP assigned and volumes set up: containers can be created. */
  sandboxReady: boolean;
  initContainers: ContainerView[];
  containers: ContainerView[];
}

/** The pod status fields the kubelet owns. `conditions` only holds the kubelet's own condition types. */
export interface KubeletStatus {
  phase: string;
  conditions: V1PodCondition[];
  hostIP: string;
  hostIPs: Array<{ ip: string }>;
  podIP?: string;
  podIPs?: Array<{ ip: string }>;
  startTime?: string;
  initContainerStatuses?: V1ContainerStatus[];
  containerStatuses: V1ContainerStatus[];
}

export const KUBELET_CONDITIONS = [
  'PodScheduled',
  'PodReadyToStartContainers',
  'Initialized',
  'ContainersReady',
  'Ready',
] as const;

/** RFC 3339 with second precision, as Kubernetes writes `metav1.Time`. */
export function timestamp(d: Date = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function stateJson(s: ContainerState | undefined): Record<string, unknown> {
  if (!s) return {};
  switch (s.kind) {
    case 'waiting':
      return { waiting: { reason: s.reason, ...(s.message ? { message: s.message } : {}) } };
    case 'running':
      return { running: { startedAt: s.startedAt } };
    case 'terminated':
      return {
        terminated: {
          exitCode: s.exitCode,
          reason: s.reason,
          ...(s.message ? { message: s.message } : {}),
          ...(s.startedAt ? { startedAt: s.startedAt } : {}),
          finishedAt: s.finishedAt,
          ...(s.containerID ? { containerID: s.containerID } : {}),
        },
      };
  }
}

function containerStatus(c: ContainerView): V1ContainerStatus {
  return {
    name: c.name,
    image: c.image,
    imageID: c.containerID ? `sandbox://${c.image}` : '',
    ...(c.containerID ? { containerID: c.containerID } : {}),
    ready: c.ready,
    started: c.started,
    restartCount: c.restartCount,
    state: stateJson(c.state),
    lastState: stateJson(c.lastState),
  } as V1ContainerStatus;
}

function phaseOf(pod: V1Pod, view: PodView, initialized: boolean): string {
  const current = pod.status?.phase;
  if (current === 'Succeeded' || current === 'Failed') return current; // terminal phases stick
  if (!initialized) {
    const failedForGood = view.initContainers.some(
      (c) => c.state.kind === 'terminated' && c.state.exitCode !== 0 && !c.willRestart,
    );
    return failedForGood ? 'Failed' : 'Pending';
  }
  const cs = view.containers;
  if (cs.some((c) => c.state.kind === 'running')) return 'Running';
  if (cs.some((c) => c.willRestart)) {
    // Waiting: Running if it ran before (restarting), Pending if it never started.
    return cs.some((c) => c.restartCount > 0 || c.lastState || c.state.kind === 'terminated')
      ? 'Running'
      : 'Pending';
  }
  if (cs.length > 0 && cs.every((c) => c.state.kind === 'terminated')) {
    return cs.every((c) => c.state.kind === 'terminated' && c.state.exitCode === 0) ? 'Succeeded' : 'Failed';
  }
  return 'Pending';
}

/**
 * Builds the kubelet-owned part of the status. `transitions` remembers when each condition last changed (seed it
 * from the pod's current conditions) and is updated in place, so repeated calls give identical output.
 */
export function buildStatus(
  pod: V1Pod,
  view: PodView,
  transitions: Map<string, { status: string; time: string }>,
  now: string = timestamp(),
): KubeletStatus {
  const initialized = view.initContainers.every(
    (c) =>
      (c.state.kind === 'terminated' && c.state.exitCode === 0) || (c.started && c.state.kind === 'running'),
  );
  const unready = view.containers.filter((c) => !c.ready).map((c) => c.name);
  const containersReady = view.sandboxReady && initialized && unready.length === 0;

  // Readiness gates: conditions written by others (the operator); Ready needs all of them True.
  const others = new Map((pod.status?.conditions ?? []).map((c) => [c.type, c]));
  const gates = (pod.spec?.readinessGates ?? []).map((g) => g.conditionType);
  const missingGates = gates.filter((g) => others.get(g)?.status !== 'True');

  const cond = (type: string, ok: boolean, reason?: string, message?: string): V1PodCondition => {
    const status = ok ? 'True' : 'False';
    const prev = transitions.get(type);
    if (!prev || prev.status !== status) transitions.set(type, { status, time: now });
    return {
      type,
      status,
      lastProbeTime: null,
      lastTransitionTime: transitions.get(type)!.time,
      reason: ok ? null : reason,
      message: ok ? null : message,
    } as unknown as V1PodCondition;
  };
  const incompleteInit = view.initContainers
    .filter((c) => !(c.state.kind === 'terminated' && c.state.exitCode === 0) && !c.started)
    .map((c) => c.name);

  const initMessage = `containers with incomplete status: [${incompleteInit.join(' ')}]`;
  const unreadyMessage = `containers with unready status: [${unready.join(' ')}]`;
  let containersReason = 'ContainersNotReady';
  let containersMessage = unreadyMessage;
  if (!initialized) {
    containersReason = 'ContainersNotInitialized';
    containersMessage = initMessage;
  }
  let readyReason = containersReason;
  let readyMessage = containersMessage;
  if (containersReady && missingGates.length > 0) {
    readyReason = 'ReadinessGatesNotReady';
    const g = missingGates[0];
    readyMessage = others.has(g)
      ? `the status of pod readiness gate "${g}" is not "True", but ${others.get(g)!.status}`
      : `corresponding condition of pod readiness gate "${g}" does not exist.`;
  }

  const conditions = [
    cond('PodScheduled', true),
    cond('PodReadyToStartContainers', view.sandboxReady),
    cond('Initialized', initialized, 'ContainersNotInitialized', initMessage),
    cond('ContainersReady', containersReady, containersReason, containersMessage),
    cond('Ready', containersReady && missingGates.length === 0, readyReason, readyMessage),
  ];

  const status: KubeletStatus = {
    phase: phaseOf(pod, view, initialized),
    conditions,
    hostIP: view.hostIP,
    hostIPs: [{ ip: view.hostIP }],
    containerStatuses: view.containers.map(containerStatus),
  };
  if (view.podIP) {
    status.podIP = view.podIP;
    status.podIPs = [{ ip: view.podIP }];
  }
  if (view.startTime) status.startTime = view.startTime;
  if (view.initContainers.length > 0) status.initContainerStatuses = view.initContainers.map(containerStatus);
  return status;
}
