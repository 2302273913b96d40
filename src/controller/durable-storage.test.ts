import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EmqxApiError } from '../emqx/client.ts';
import { parseHocon } from '../hocon/index.ts';
import {
  dbTargetSites,
  dsSettled,
  durableSessionsEnabled,
  readDurableStorage,
  replicationFactorOf,
  shardTarget,
  siteHoldsData,
  summarize,
  type DsObservation,
} from './durable-storage.ts';
import type { EmqxApi } from './emqx-access.ts';

test('durable sessions are on globally or in any zone; the replication factor comes from the config', () => {
  assert.equal(durableSessionsEnabled(parseHocon('durable_sessions.enable = true')), true);
  assert.equal(durableSessionsEnabled(parseHocon('zones.z1.durable_sessions.enable = true')), true);
  assert.equal(
    durableSessionsEnabled(parseHocon('durable_sessions.enable = false\nzones.z1.mqtt {}')),
    false,
  );
  assert.equal(durableSessionsEnabled(parseHocon('')), false);
  assert.deepEqual(replicationFactorOf(parseHocon('durable_storage.messages.replication_factor = 2')), {
    factor: 2,
    explicit: true,
  });
  assert.deepEqual(replicationFactorOf(parseHocon('')), { factor: 3, explicit: false });
  assert.deepEqual(replicationFactorOf(parseHocon('durable_storage.messages.replication_factor = 0')), {
    factor: 3,
    explicit: false,
  });
});

const obs: DsObservation = {
  sites: [
    { site: 'A', node: 'emqx@a', up: true },
    { site: 'B', node: 'emqx@b', up: true },
    { site: 'C', node: 'emqx@c', up: false },
  ],
  dbs: [
    {
      name: 'messages',
      shards: [
        {
          id: '0',
          replicas: [
            { site: 'A', status: 'up' },
            { site: 'C', status: 'down' },
          ],
          transitions: [],
        },
        {
          id: '1',
          replicas: [{ site: 'A', status: 'up' }],
          transitions: [
            { site: 'B', transition: 'joining' },
            { site: 'A', transition: 'leaving' },
          ],
        },
      ],
    },
  ],
};

test('targets, holdings and counts read from what /ds shows', () => {
  assert.deepEqual(shardTarget(obs.dbs[0]!.shards[1]!), ['B']);
  assert.deepEqual(dbTargetSites(obs.dbs[0]!), ['A', 'B', 'C']);
  assert.equal(siteHoldsData(obs, 'B'), true, 'a joining site holds data');
  assert.equal(siteHoldsData(obs, 'C'), true);
  assert.equal(siteHoldsData({ ...obs, dbs: [] }, 'A'), false);
  assert.deepEqual(summarize(obs, 2), {
    shards: 2,
    underReplicated: 2,
    transitions: 1,
    shardsPerSite: { A: 2, B: 0, C: 1 },
  });
  assert.equal(dsSettled(obs), false);
  assert.equal(
    dsSettled({ sites: obs.sites, dbs: [{ name: 'm', shards: [obs.dbs[0]!.shards[0]!] }] }),
    false,
    'a down replica is not settled',
  );
});

function fakeApi(over: Partial<EmqxApi>): EmqxApi {
  return over as EmqxApi;
}

test('readDurableStorage: sites with their nodes, every DB; 404 "disabled" is not an error', async () => {
  const api = fakeApi({
    dsSites: async () => ['A'],
    dsSite: async () => ({ node: 'emqx@a', up: true, shards: [] }),
    dsStorages: async () => ['messages'],
    dsStorage: async () => ({
      name: 'messages',
      shards: [{ id: '0', replicas: [{ site: 'A', status: 'up' }] }],
    }),
  });
  assert.deepEqual(await readDurableStorage(api), {
    sites: [{ site: 'A', node: 'emqx@a', up: true }],
    dbs: [
      { name: 'messages', shards: [{ id: '0', replicas: [{ site: 'A', status: 'up' }], transitions: [] }] },
    ],
  });
  const disabled = fakeApi({
    dsSites: async () => {
      throw new EmqxApiError('GET /api/v5/ds/sites', 'http://x', 404, {
        code: 'NOT_FOUND',
        message: 'Durable storage is disabled',
      });
    },
  });
  assert.equal(await readDurableStorage(disabled), 'disabled');
  const failing = fakeApi({
    dsSites: async () => {
      throw new EmqxApiError('GET /api/v5/ds/sites', 'http://x', 503, { code: 'SERVICE_UNAVAILABLE' });
    },
  });
  await assert.rejects(readDurableStorage(failing), EmqxApiError);
});
