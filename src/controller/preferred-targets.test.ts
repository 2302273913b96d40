import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PreferredTargets } from './preferred-targets.ts';

const T = ['a', 'b', 'c'];

describe('PreferredTargets', () => {
  it('puts the target that answered last first, then keeps it while the next client has not answered', () => {
    const p = new PreferredTargets(60_000, () => 0);
    assert.deepEqual(p.order('k', T), T);
    p.remember('k', { currentTarget: 'c' });
    assert.deepEqual(p.order('k', T), ['c', 'a', 'b']);
    p.remember('k', {}); // a new client that has not called yet: the old preference stands
    assert.deepEqual(p.order('k', T), ['c', 'a', 'b']);
    assert.deepEqual(p.order('other', T), T);
  });

  it('ignores a preferred target that is no longer offered', () => {
    const p = new PreferredTargets(60_000, () => 0);
    p.remember('k', { currentTarget: 'gone' });
    assert.deepEqual(p.order('k', T), T);
  });

  it('drops entries not used for the TTL, so deleted clusters do not accumulate', () => {
    let now = 0;
    const p = new PreferredTargets(60_000, () => now);
    for (let i = 0; i < 200; i++) p.remember(`cluster-${i}`, { currentTarget: 'a' });
    assert.equal(p.size, 200);
    for (let t = 0; t <= 120_000; t += 10_000) {
      now = t;
      p.remember('live', { currentTarget: 'b' }); // one cluster still reconciled every 10 s
    }
    assert.equal(p.size, 1);
    assert.deepEqual(p.order('live', T), ['b', 'a', 'c']);
    assert.deepEqual(p.order('cluster-0', T), T);
  });
});
