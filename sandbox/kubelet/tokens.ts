// ServiceAccount tokens for projected `serviceAccountToken` volume sources, as a kubelet gets them: from the API
// server's TokenRequest API (POST .../serviceaccounts/<sa>/token), bound to the pod (so they stop working when the
// pod is deleted), with the requested audience and lifetime, and refreshed once 80% of the lifetime has passed.
// Volume syncs are synchronous: `get` answers from the cache and starts a request when there is nothing usable; when
// a token arrives (or a refresh is due) the pod is poked and its volumes are synced again.
import type { V1Pod, V1ServiceAccountTokenProjection } from '@kubernetes/client-node';
import type { KubeApi } from './api.ts';

export type TokenResult = { ok: true; token: Buffer } | { ok: false; message: string };

interface Entry {
  token?: string;
  expiresAtMs?: number;
  refreshAtMs?: number;
  fetching?: boolean;
  error?: string;
  timer?: NodeJS.Timeout;
}

interface TokenRequestStatus {
  status?: { token?: string; expirationTimestamp?: string };
}

/** Default lifetime when the projection gives none, as the API: one hour. */
const DEFAULT_EXPIRATION_SECONDS = 3600;

export class TokenManager {
  private readonly entries = new Map<string, Entry>();
  private stopped = false;

  private readonly api: KubeApi;
  /** Called with a pod's UID when one of its tokens arrived or is due for refresh. */
  private readonly poke: (podUid: string) => void;
  private readonly log: (line: string) => void;

  constructor(api: KubeApi, poke: (podUid: string) => void, log: (line: string) => void = () => {}) {
    this.api = api;
    this.poke = poke;
    this.log = log;
  }

  get(pod: V1Pod, src: V1ServiceAccountTokenProjection): TokenResult {
    const uid = pod.metadata?.uid ?? '';
    const key = `${uid}|${src.audience ?? ''}|${src.expirationSeconds ?? ''}`;
    let e = this.entries.get(key);
    if (!e) this.entries.set(key, (e = {}));
    const now = Date.now();
    const usable = e.token !== undefined && (e.expiresAtMs ?? 0) > now;
    if (!e.fetching && (!usable || now >= (e.refreshAtMs ?? 0))) this.fetch(key, e, pod, src);
    if (usable) return { ok: true, token: Buffer.from(e.token!) };
    return { ok: false, message: e.error ?? 'waiting for the ServiceAccount token (TokenRequest)' };
  }

  /** Drops a pod's tokens (the pod is gone). */
  forget(podUid: string): void {
    for (const [key, e] of this.entries) {
      if (!key.startsWith(`${podUid}|`)) continue;
      clearTimeout(e.timer);
      this.entries.delete(key);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const e of this.entries.values()) clearTimeout(e.timer);
    this.entries.clear();
  }

  private fetch(key: string, e: Entry, pod: V1Pod, src: V1ServiceAccountTokenProjection): void {
    const ns = pod.metadata?.namespace ?? 'default';
    const sa = pod.spec?.serviceAccountName || 'default';
    const uid = pod.metadata?.uid ?? '';
    e.fetching = true;
    const body = {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: {
        audiences: src.audience ? [src.audience] : [],
        expirationSeconds: src.expirationSeconds ?? DEFAULT_EXPIRATION_SECONDS,
        boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name, uid },
      },
    };
    const path = `/api/v1/namespaces/${encodeURIComponent(ns)}/serviceaccounts/${encodeURIComponent(sa)}/token`;
    const issuedAt = Date.now();
    this.api.post<TokenRequestStatus>(path, body).then(
      (r) => {
        e.fetching = false;
        if (this.stopped || this.entries.get(key) !== e) return;
        const token = r.status?.token;
        const exp = Date.parse(r.status?.expirationTimestamp ?? '');
        if (!token || !Number.isFinite(exp)) {
          this.failed(key, e, uid, 'TokenRequest answered without a token');
          return;
        }
        e.token = token;
        e.expiresAtMs = exp;
        e.error = undefined;
        // Like the kubelet: refresh at 80% of the lifetime (at most 24 h from now).
        e.refreshAtMs = issuedAt + Math.min(0.8 * (exp - issuedAt), 24 * 3600_000);
        clearTimeout(e.timer);
        e.timer = setTimeout(() => this.poke(uid), Math.max(0, e.refreshAtMs - Date.now()));
        e.timer.unref();
        this.log(
          `token for pod ${ns}/${pod.metadata?.name} (serviceaccount ${sa}) valid until ${r.status?.expirationTimestamp}`,
        );
        this.poke(uid);
      },
      (err: Error) => {
        e.fetching = false;
        if (this.stopped || this.entries.get(key) !== e) return;
        this.failed(key, e, uid, `TokenRequest for serviceaccount ${ns}/${sa} failed: ${err.message}`);
      },
    );
  }

  private failed(key: string, e: Entry, uid: string, message: string): void {
    e.error = message;
    this.log(message);
    clearTimeout(e.timer);
    e.timer = setTimeout(() => this.poke(uid), 1000);
    e.timer.unref();
  }
}
