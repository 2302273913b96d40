// Table-driven cases for the rollout strategies: a hand-built world, and what the pass must decide.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planRollout } from '../../src/controller/rollout/index.ts';
import type { RolloutAction, RolloutDecision } from '../../src/controller/rollout/types.ts';
import { NOW, world, type WorldSpec } from './world.ts';

export interface RolloutCase {
  name: string;
  world: WorldSpec;
  /** The action (compared on the fields given), or null for none. */
  action: Partial<RolloutAction> | null;
  phase?: string;
  /** Matches status.update.message. */
  message?: RegExp;
  /** Replicas the current core StatefulSet is applied with (undefined: the spec's). */
  coreReplicas?: number | undefined;
  /** A requeue is asked for (default: whenever something is in progress). */
  requeue?: boolean;
  check?: (d: RolloutDecision) => void;
}

export function runCases(group: string, cases: RolloutCase[]): void {
  for (const c of cases) {
    test(`${group}: ${c.name}`, () => {
      const d = planRollout(world(c.world), NOW);
      if (c.action === null)
        assert.equal(d.action, undefined, `no action expected, got ${JSON.stringify(d.action)}`);
      else {
        assert.ok(d.action, 'an action is expected');
        for (const [k, v] of Object.entries(c.action)) {
          assert.deepEqual((d.action as Record<string, unknown>)[k], v, `action.${k}`);
        }
      }
      if (c.phase !== undefined) assert.equal(d.update?.phase, c.phase);
      if (c.message) assert.match(d.update?.message ?? '', c.message);
      if ('coreReplicas' in c) assert.equal(d.coreReplicas, c.coreReplicas);
      if (c.requeue !== undefined) assert.equal(d.requeue !== undefined, c.requeue);
      c.check?.(d);
    });
  }
}

/** The nodes an evacuate action moves clients to. */
export function migrateTo(d: RolloutDecision): string[] {
  if (d.action?.kind !== 'evacuate') throw new Error(`not an evacuation: ${JSON.stringify(d.action)}`);
  return d.action.body.migrate_to as string[];
}
