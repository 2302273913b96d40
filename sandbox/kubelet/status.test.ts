import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { buildStatus, type ContainerView, type PodView } from './status.ts';

const T0 = '2026-01-01T00:00:00Z';
const T1 = '2026-01-01T00:00:05Z';

function c(name: string, over: Partial<ContainerView> = {}): ContainerView {
  return {
    name,
    image: 'busybox',
    containerID: 'sandbox://x',
    state: { kind: 'running', startedAt: T0 },
    ready: true,
    started: true,
    restartCount: 0,
    willRestart: true,
    ...over,
  };
}

function view(over: Partial<PodView> = {}): PodView {
  return {
    podIP: '127.1.0.9',
    hostIP: '127.0.0.1',
    startTime: T0,
    sandboxReady: true,
    initContainers: [],
    containers: [c('a')],
    ...over,
  };
}

const cond = (s: ReturnType<typeof buildStatus>, type: string) => s.conditions.find((x) => x.type === type)!;

test('a running, ready pod: phase Running, every kubelet condition True, IPs and container statuses', () => {
  const s = buildStatus({ spec: { containers: [] } }, view(), new Map(), T0);
  assert.equal(s.phase, 'Running');
  for (const t of ['PodScheduled', 'PodReadyToStartContainers', 'Initialized', 'ContainersReady', 'Ready']) {
    assert.equal(cond(s, t).status, 'True', t);
    assert.equal(cond(s, t).reason, null, `${t}: reason cleared for the merge patch`);
  }
  assert.equal(s.podIP, '127.1.0.9');
  assert.deepEqual(s.podIPs, [{ ip: '127.1.0.9' }]);
  assert.deepEqual(s.containerStatuses[0].state, { running: { startedAt: T0 } });
  assert.equal(s.containerStatuses[0].ready, true);
});

test('an unready container makes ContainersReady and Ready False with the kubelet reason and message', () => {
  const s = buildStatus({}, view({ containers: [c('a'), c('b', { ready: false })] }), new Map(), T0);
  assert.equal(cond(s, 'ContainersReady').status, 'False');
  assert.equal(cond(s, 'Ready').reason, 'ContainersNotReady');
  assert.equal(cond(s, 'Ready').message, 'containers with unready status: [b]');
  assert.equal(s.phase, 'Running');
});

test('readiness gates: Ready needs every gate condition True; other writers’ conditions are read, not owned', () => {
  const pod = (status?: string): V1Pod => ({
    spec: { containers: [], readinessGates: [{ conditionType: 'apps.emqx.io/on-serving' }] },
    status: status ? { conditions: [{ type: 'apps.emqx.io/on-serving', status }] } : {},
  });
  const missing = buildStatus(pod(), view(), new Map(), T0);
  assert.equal(cond(missing, 'ContainersReady').status, 'True');
  assert.equal(cond(missing, 'Ready').status, 'False');
  assert.equal(cond(missing, 'Ready').reason, 'ReadinessGatesNotReady');
  assert.match(cond(missing, 'Ready').message!, /does not exist/);
  assert.equal(cond(buildStatus(pod('False'), view(), new Map(), T0), 'Ready').status, 'False');
  const ok = buildStatus(pod('True'), view(), new Map(), T0);
  assert.equal(cond(ok, 'Ready').status, 'True');
  assert.ok(
    !ok.conditions.some((x) => x.type === 'apps.emqx.io/on-serving'),
    'gate condition not written by the kubelet',
  );
});

test('lastTransitionTime moves only when a condition flips', () => {
  const transitions = new Map<string, { status: string; time: string }>();
  const a = buildStatus({}, view({ containers: [c('a', { ready: false })] }), transitions, T0);
  assert.equal(cond(a, 'Ready').lastTransitionTime, T0);
  const b = buildStatus({}, view({ containers: [c('a', { ready: false })] }), transitions, T1);
  assert.equal(cond(b, 'Ready').lastTransitionTime, T0, 'unchanged status keeps its time');
  assert.deepEqual(b, a, 'identical input gives identical output (no spurious writes)');
  const d = buildStatus({}, view(), transitions, T1);
  assert.equal(cond(d, 'Ready').lastTransitionTime, T1);
  assert.equal(cond(d, 'PodScheduled').lastTransitionTime, T0);
});

test('init containers: Pending and not Initialized until they completed', () => {
  const init = [
    c('init-1', {
      state: { kind: 'terminated', exitCode: 0, reason: 'Completed', finishedAt: T0 },
      ready: true,
      started: false,
    }),
    c('init-2', { state: { kind: 'running', startedAt: T0 }, ready: false, started: false }),
  ];
  const main = [
    c('a', {
      state: { kind: 'waiting', reason: 'PodInitializing' },
      ready: false,
      started: false,
      containerID: undefined,
    }),
  ];
  const s = buildStatus({}, view({ initContainers: init, containers: main }), new Map(), T0);
  assert.equal(s.phase, 'Pending');
  assert.equal(cond(s, 'Initialized').status, 'False');
  assert.equal(cond(s, 'Initialized').message, 'containers with incomplete status: [init-2]');
  assert.equal(cond(s, 'Ready').reason, 'ContainersNotInitialized');
  assert.equal(s.initContainerStatuses!.length, 2);
  assert.deepEqual(s.containerStatuses[0].state, { waiting: { reason: 'PodInitializing' } });
});

test('phases of finished pods follow exit codes and the restart policy', () => {
  const done = (code: number, willRestart = false) =>
    c('a', {
      state: { kind: 'terminated', exitCode: code, reason: code ? 'Error' : 'Completed', finishedAt: T0 },
      ready: false,
      willRestart,
    });
  assert.equal(buildStatus({}, view({ containers: [done(0)] }), new Map(), T0).phase, 'Succeeded');
  assert.equal(buildStatus({}, view({ containers: [done(0), done(2)] }), new Map(), T0).phase, 'Failed');
  const backoff = c('a', {
    state: { kind: 'waiting', reason: 'CrashLoopBackOff' },
    lastState: { kind: 'terminated', exitCode: 1, reason: 'Error', finishedAt: T0 },
    restartCount: 2,
    ready: false,
  });
  const s = buildStatus({}, view({ containers: [backoff] }), new Map(), T0);
  assert.equal(s.phase, 'Running', 'a crash-looping container keeps the pod Running');
  assert.deepEqual(s.containerStatuses[0].lastState, {
    terminated: { exitCode: 1, reason: 'Error', finishedAt: T0 },
  });
  assert.equal(s.containerStatuses[0].restartCount, 2);
  assert.equal(
    buildStatus({ status: { phase: 'Succeeded' } }, view(), new Map(), T0).phase,
    'Succeeded',
    'terminal phases stick',
  );
  const creating = c('a', {
    state: { kind: 'waiting', reason: 'ContainerCreating' },
    ready: false,
    started: false,
  });
  const p = buildStatus({}, view({ sandboxReady: false, containers: [creating] }), new Map(), T0);
  assert.equal(p.phase, 'Pending');
  assert.equal(cond(p, 'PodReadyToStartContainers').status, 'False');
});
