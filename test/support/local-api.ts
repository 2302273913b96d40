// A stand-in Kubernetes API server for unit tests: `server` listens on 127.0.0.1 (a free port), a KubeConfig points
// at it over plain http, and both are closed after the calling test file.
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';

export async function serveLocalApi(server: http.Server): Promise<KubeConfig> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'c',
        server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        skipTLSVerify: true,
      },
    ],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  return kc;
}
