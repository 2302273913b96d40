// Pod volumes as directories on the host, and the mapping from container paths to host paths.
//
// Layout of a pod directory:   volumes/<volume>/...        configMap, secret, emptyDir, downwardAPI, projected
//                              subpaths/<container>/<n>    copies taken at container start for subPath mounts of
//                                                          ConfigMap/Secret/downwardAPI/projected volumes
// A persistentVolumeClaim volume is the directory of its bound PV (outside the pod directory, so data survives the
// pod). ConfigMap/Secret/downwardAPI/projected volumes are rewritten when their source changes; subPath mounts of
// them are not (a real kubelet bind-mounts the file once), emptyDir and PVC subPaths are live directories.
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type {
  V1ConfigMap,
  V1Container,
  V1DownwardAPIVolumeFile,
  V1KeyToPath,
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1Pod,
  V1Secret,
  V1ServiceAccountTokenProjection,
  V1Volume,
} from '@kubernetes/client-node';
import { expand, fieldValue, type EnvSources } from './env.ts';

export interface Mount {
  /** Normalised absolute path inside the container, without a trailing slash (except `/`). */
  mountPath: string;
  hostPath: string;
  readOnly: boolean;
}

/** Maps a container path to a host path: the longest mount path that is the path itself or one of its parents. */
export function mapContainerPath(mounts: readonly Mount[], containerPath: string): string | undefined {
  if (!containerPath.startsWith('/')) return undefined;
  const p = path.posix.normalize(containerPath).replace(/(.)\/$/, '$1');
  let best: Mount | undefined;
  for (const m of mounts) {
    const under = m.mountPath === '/' || p === m.mountPath || p.startsWith(m.mountPath + '/');
    if (under && (!best || m.mountPath.length > best.mountPath.length)) best = m;
  }
  if (!best) return undefined;
  const rest = best.mountPath === '/' ? p.slice(1) : p.slice(best.mountPath.length + 1);
  return rest ? path.join(best.hostPath, ...rest.split('/')) : best.hostPath;
}

export function normaliseMountPath(p: string): string {
  return path.posix.normalize(p.startsWith('/') ? p : '/' + p).replace(/(.)\/$/, '$1');
}

export interface VolumeSources extends EnvSources {
  pvc(namespace: string, name: string): V1PersistentVolumeClaim | undefined;
  pv(name: string): V1PersistentVolume | undefined;
  /** A ServiceAccount token for a projected volume (TokenRequest). Absent: a placeholder no API server accepts. */
  serviceAccountToken?(
    pod: V1Pod,
    src: V1ServiceAccountTokenProjection,
  ): { ok: true; token: Buffer } | { ok: false; message: string };
}

export type Files = Map<string, Buffer>;
export type FilesResult = { ok: true; files: Files } | { ok: false; message: string };

function keyed(
  data: Record<string, Buffer>,
  items: V1KeyToPath[] | undefined,
  optional: boolean,
  what: string,
): FilesResult {
  const files: Files = new Map();
  if (!items || items.length === 0) {
    for (const [k, v] of Object.entries(data)) files.set(k, v);
    return { ok: true, files };
  }
  for (const item of items) {
    const v = data[item.key];
    if (v === undefined) {
      if (optional) continue;
      return { ok: false, message: `${what} references non-existent key: ${item.key}` };
    }
    files.set(item.path, v);
  }
  return { ok: true, files };
}

/** Files of a ConfigMap volume source (`data` and `binaryData`, or just `items`). */
export function configMapFiles(
  cm: V1ConfigMap | undefined,
  name: string,
  items: V1KeyToPath[] | undefined,
  optional: boolean,
): FilesResult {
  if (!cm)
    return optional
      ? { ok: true, files: new Map() }
      : { ok: false, message: `configmap "${name}" not found` };
  const data: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(cm.data ?? {})) data[k] = Buffer.from(v, 'utf8');
  for (const [k, v] of Object.entries(cm.binaryData ?? {})) data[k] = Buffer.from(v, 'base64');
  return keyed(data, items, optional, `configmap "${name}"`);
}

/** Files of a Secret volume source. */
export function secretFiles(
  secret: V1Secret | undefined,
  name: string,
  items: V1KeyToPath[] | undefined,
  optional: boolean,
): FilesResult {
  if (!secret)
    return optional ? { ok: true, files: new Map() } : { ok: false, message: `secret "${name}" not found` };
  const data: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, 'base64');
  for (const [k, v] of Object.entries(secret.stringData ?? {})) data[k] ??= Buffer.from(v, 'utf8');
  return keyed(data, items, optional, `secret "${name}"`);
}

function formatMap(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${JSON.stringify(m![k])}\n`)
    .join('');
}

/** Files of a downwardAPI volume source (labels/annotations as `key="value"` lines, like the kubelet). */
export function downwardApiFiles(pod: V1Pod, items: V1DownwardAPIVolumeFile[] | undefined): FilesResult {
  const files: Files = new Map();
  for (const item of items ?? []) {
    const fp = item.fieldRef?.fieldPath;
    let value: string | undefined;
    if (fp === 'metadata.labels') value = formatMap(pod.metadata?.labels);
    else if (fp === 'metadata.annotations') value = formatMap(pod.metadata?.annotations);
    else if (fp) value = fieldValue(pod, fp);
    else if (item.resourceFieldRef) value = '0';
    if (value === undefined) return { ok: false, message: `downwardAPI: unsupported fieldPath ${fp}` };
    files.set(item.path, Buffer.from(value, 'utf8'));
  }
  return { ok: true, files };
}

/** Writes `files` under `dir`, rewriting only changed files and removing the ones written before but gone now. */
export function writeFiles(dir: string, files: Files, previous: ReadonlySet<string>): Set<string> {
  mkdirSync(dir, { recursive: true });
  for (const [rel, content] of files) {
    const target = path.join(dir, rel);
    if (!target.startsWith(dir + path.sep)) continue; // API validation forbids `..`; be safe anyway
    mkdirSync(path.dirname(target), { recursive: true });
    if (existsSync(target) && statSync(target).isFile() && readFileSync(target).equals(content)) continue;
    const tmp = `${target}.tmp-${process.pid}`;
    writeFileSync(tmp, content);
    renameSync(tmp, target);
  }
  for (const rel of previous) {
    if (!files.has(rel)) rmSync(path.join(dir, rel), { force: true });
  }
  return new Set(files.keys());
}

/** Volume kinds whose content the kubelet keeps in sync with their source. */
const REFRESHED = ['configMap', 'secret', 'downwardAPI', 'projected'] as const;

function volumeKind(v: V1Volume): string {
  for (const k of [...REFRESHED, 'emptyDir', 'persistentVolumeClaim', 'hostPath'] as const)
    if (v[k]) return k;
  return 'other';
}

export type SyncResult = { ok: true } | { ok: false; message: string };

/** The volumes of one pod, materialised under `<podDir>/volumes`. */
export class PodVolumes {
  readonly podDir: string;
  /** Host directories allowed as PV/hostPath backing (anything else is redirected under `<sandboxDir>/hostpath`). */
  readonly sandboxDir: string;
  private readonly hostDirs = new Map<string, string>();
  private readonly written = new Map<string, Set<string>>();

  constructor(podDir: string, sandboxDir: string) {
    this.podDir = podDir;
    this.sandboxDir = sandboxDir;
  }

  /** Host directory backing volume `name` (after a successful sync). */
  hostDir(name: string): string | undefined {
    return this.hostDirs.get(name);
  }

  /**
   * Creates or refreshes every volume of the pod. Returns the first problem (missing ConfigMap/Secret, unbound
   * PVC) without stopping at it: the other volumes are still brought up to date.
   */
  sync(pod: V1Pod, sources: VolumeSources): SyncResult {
    const ns = pod.metadata?.namespace ?? 'default';
    let problem: string | undefined;
    for (const v of pod.spec?.volumes ?? []) {
      const r = this.syncOne(pod, ns, v, sources);
      if (!r.ok && !problem) problem = `MountVolume.SetUp failed for volume "${v.name}": ${r.message}`;
    }
    return problem ? { ok: false, message: problem } : { ok: true };
  }

  private syncOne(pod: V1Pod, ns: string, v: V1Volume, sources: VolumeSources): SyncResult {
    const dir = path.join(this.podDir, 'volumes', v.name);
    const kind = volumeKind(v);
    let files: FilesResult | undefined;
    switch (kind) {
      case 'configMap': {
        const s = v.configMap!;
        files = configMapFiles(sources.configMap(ns, s.name ?? ''), s.name ?? '', s.items, !!s.optional);
        break;
      }
      case 'secret': {
        const s = v.secret!;
        files = secretFiles(
          sources.secret(ns, s.secretName ?? ''),
          s.secretName ?? '',
          s.items,
          !!s.optional,
        );
        break;
      }
      case 'downwardAPI':
        files = downwardApiFiles(pod, v.downwardAPI!.items);
        break;
      case 'projected': {
        const all: Files = new Map();
        for (const src of v.projected!.sources ?? []) {
          let part: FilesResult = { ok: true, files: new Map() };
          if (src.configMap) {
            const n = src.configMap.name ?? '';
            part = configMapFiles(sources.configMap(ns, n), n, src.configMap.items, !!src.configMap.optional);
          } else if (src.secret) {
            const n = src.secret.name ?? '';
            part = secretFiles(sources.secret(ns, n), n, src.secret.items, !!src.secret.optional);
          } else if (src.downwardAPI) {
            part = downwardApiFiles(pod, src.downwardAPI.items);
          } else if (src.serviceAccountToken) {
            const t = sources.serviceAccountToken?.(pod, src.serviceAccountToken) ?? {
              ok: true as const,
              token: Buffer.from('sandbox-no-token'),
            };
            part = t.ok ? { ok: true, files: new Map([[src.serviceAccountToken.path, t.token]]) } : t;
          }
          if (!part.ok) return part;
          for (const [k, c] of part.files) all.set(k, c);
        }
        files = { ok: true, files: all };
        break;
      }
      case 'persistentVolumeClaim': {
        const claim = v.persistentVolumeClaim!.claimName;
        const pvc = sources.pvc(ns, claim);
        if (!pvc) return { ok: false, message: `persistentvolumeclaim "${claim}" not found` };
        if (pvc.metadata?.deletionTimestamp && !this.hostDirs.has(v.name)) {
          return { ok: false, message: `persistentvolumeclaim "${claim}" is being deleted` };
        }
        const pvName = pvc.spec?.volumeName;
        const pv = pvName ? sources.pv(pvName) : undefined;
        if (pvc.status?.phase !== 'Bound' || !pv) {
          return { ok: false, message: `persistentvolumeclaim "${claim}" is not bound` };
        }
        const backing = pv.spec?.hostPath?.path ?? pv.spec?.local?.path;
        if (!backing)
          return { ok: false, message: `persistentvolume "${pvName}" has no hostPath or local source` };
        const host = this.confine(backing);
        mkdirSync(host, { recursive: true });
        this.hostDirs.set(v.name, host);
        return { ok: true };
      }
      case 'hostPath': {
        const host = this.confine(v.hostPath!.path);
        mkdirSync(host, { recursive: true });
        this.hostDirs.set(v.name, host);
        return { ok: true };
      }
      default: // emptyDir, and any other kind as an empty directory
        mkdirSync(dir, { recursive: true });
        this.hostDirs.set(v.name, dir);
        return { ok: true };
    }
    if (!files.ok) return files;
    this.written.set(v.name, writeFiles(dir, files.files, this.written.get(v.name) ?? new Set()));
    this.hostDirs.set(v.name, dir);
    return { ok: true };
  }

  /** Paths outside the sandbox are never touched: they are redirected into `<sandboxDir>/hostpath/`. */
  private confine(p: string): string {
    const abs = path.resolve(p);
    if (abs === this.sandboxDir || abs.startsWith(this.sandboxDir + path.sep)) return abs;
    return path.join(this.sandboxDir, 'hostpath', ...abs.split(path.sep).filter(Boolean));
  }

  /**
   * The mounts of `container` (call after a successful sync, at container start). subPath mounts of refreshed
   * volumes are copied to a per-container directory, so later updates do not reach them.
   */
  mountsFor(pod: V1Pod, container: V1Container, env: Record<string, string>): Mount[] {
    const mounts: Mount[] = [];
    const byName = new Map((pod.spec?.volumes ?? []).map((v) => [v.name, v]));
    (container.volumeMounts ?? []).forEach((vm, i) => {
      const base = this.hostDirs.get(vm.name);
      const volume = byName.get(vm.name);
      if (!base || !volume) return;
      const subPath = vm.subPathExpr ? expand(vm.subPathExpr, (n) => env[n]) : vm.subPath;
      let hostPath = base;
      if (subPath) {
        const inVolume = path.join(base, ...subPath.split('/').filter((s) => s && s !== '..'));
        if ((REFRESHED as readonly string[]).includes(volumeKind(volume))) {
          hostPath = path.join(this.podDir, 'subpaths', container.name, String(i));
          rmSync(hostPath, { recursive: true, force: true });
          mkdirSync(path.dirname(hostPath), { recursive: true });
          if (existsSync(inVolume)) cpSync(inVolume, hostPath, { recursive: true });
          else mkdirSync(hostPath, { recursive: true });
        } else {
          if (!existsSync(inVolume)) mkdirSync(inVolume, { recursive: true });
          hostPath = inVolume;
        }
      }
      mounts.push({ mountPath: normaliseMountPath(vm.mountPath), hostPath, readOnly: !!vm.readOnly });
    });
    return mounts;
  }
}
