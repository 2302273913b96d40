import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Service } from '@kubernetes/client-node';
import { accessLines, clusterAccess, serviceAddress } from './access.ts';

const listeners: V1Service = {
  spec: {
    clusterIP: '127.70.1.2',
    ports: [
      { name: 'tcp-default', port: 1883 },
      { name: 'ws-default', port: 8083 },
    ],
  },
};
const dashboard: V1Service = {
  spec: { type: 'LoadBalancer', clusterIP: '127.70.1.3', ports: [{ name: 'dashboard', port: 18083 }] },
  status: { loadBalancer: { ingress: [{ ip: '127.134.5.6' }] } },
};

test('addresses: the load-balancer address when there is one, else the ClusterIP; never a headless "None"', () => {
  assert.equal(serviceAddress(dashboard), '127.134.5.6');
  assert.equal(serviceAddress(listeners), '127.70.1.2');
  assert.equal(serviceAddress({ spec: { clusterIP: 'None' } }), undefined);
  assert.deepEqual(clusterAccess(listeners, dashboard), {
    mqtt: { host: '127.70.1.2', port: 1883 },
    ws: { host: '127.70.1.2', port: 8083 },
    dashboard: { host: '127.134.5.6', port: 18083 },
  });
});

test('the printed lines carry the MQTT address and two paste-able MQTT.js commands', () => {
  const lines = accessLines(clusterAccess(listeners, dashboard)).join('\n');
  assert.match(lines, /MQTT: mqtt:\/\/127\.70\.1\.2:1883/);
  assert.match(lines, /npx mqtt sub -h 127\.70\.1\.2 -p 1883 -t 'demo\/#'/);
  assert.match(lines, /npx mqtt pub -h 127\.70\.1\.2 -p 1883 -t 'demo\/hello'/);
  assert.match(lines, /http:\/\/127\.134\.5\.6:18083/);
  assert.match(accessLines({}).join('\n'), /no address yet/);
});
