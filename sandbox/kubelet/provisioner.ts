// A volume provisioner and binder for every StorageClass (and none): each Pending PVC gets a new PV backed by a
// directory `<sandboxDir>/volumes/<pv>` (hostPath source, claimRef set), and both are marked Bound. A PV created
// by hand and pre-bound to a claim (spec.claimRef) is bound instead of provisioning. When a claim is deleted its
// PV is released: reclaim policy Delete removes the PV and its directory, Retain leaves both (phase Released).
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1StorageClass } from '@kubernetes/client-node';
import { CONTENT_TYPE, isConflict, isNotFound, type KubeApi } from './api.ts';

export const PROVISIONER = 'sandbox.emqx.io/hostpath';

export interface ProvisionerCaches {
  pv(name: string): V1PersistentVolume | undefined;
  pvs(): readonly V1PersistentVolume[];
  pvc(namespace: string, name: string): V1PersistentVolumeClaim | undefined;
}

export function pvNameFor(pvc: V1PersistentVolumeClaim): string {
  return `pvc-${pvc.metadata!.uid}`;
}

/** The PV the provisioner creates for `pvc`. */
export function pvFor(pvc: V1PersistentVolumeClaim, dir: string, reclaimPolicy: string): V1PersistentVolume {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: {
      name: pvNameFor(pvc),
      annotations: { 'pv.kubernetes.io/provisioned-by': PROVISIONER },
    },
    spec: {
      capacity: { storage: pvc.spec?.resources?.requests?.storage ?? '1Gi' },
      accessModes: pvc.spec?.accessModes?.length ? pvc.spec.accessModes : ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: reclaimPolicy,
      storageClassName: pvc.spec?.storageClassName ?? '',
      volumeMode: pvc.spec?.volumeMode ?? 'Filesystem',
      hostPath: { path: dir, type: 'DirectoryOrCreate' },
      claimRef: {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        namespace: pvc.metadata!.namespace,
        name: pvc.metadata!.name,
        uid: pvc.metadata!.uid,
      },
    },
  };
}

export class Provisioner {
  private readonly api: KubeApi;
  private readonly volumesDir: string;
  private readonly caches: ProvisionerCaches;
  private readonly log: (line: string) => void;
  private readonly inFlight = new Set<string>();
  stopped = false;

  constructor(api: KubeApi, sandboxDir: string, caches: ProvisionerCaches, log: (line: string) => void) {
    this.api = api;
    this.volumesDir = path.join(sandboxDir, 'volumes');
    this.caches = caches;
    this.log = log;
  }

  pvDir(pvName: string): string {
    return path.join(this.volumesDir, pvName);
  }

  /** A claim was added or changed. */
  claim(pvc: V1PersistentVolumeClaim): void {
    const uid = pvc.metadata?.uid ?? '';
    if (this.stopped || pvc.metadata?.deletionTimestamp || this.inFlight.has(uid)) return;
    if (pvc.status?.phase === 'Bound' && pvc.spec?.volumeName) return;
    this.inFlight.add(uid);
    void this.bind(pvc)
      .catch((e: Error) => {
        if (this.stopped || isNotFound(e)) return;
        this.log(`pvc ${pvc.metadata?.namespace}/${pvc.metadata?.name}: ${e.message}; retrying`);
        setTimeout(() => {
          const latest = this.caches.pvc(pvc.metadata!.namespace!, pvc.metadata!.name!);
          if (latest) this.claim(latest);
        }, 1000);
      })
      .finally(() => this.inFlight.delete(uid));
  }

  private async bind(pvc: V1PersistentVolumeClaim): Promise<void> {
    const ns = pvc.metadata!.namespace!;
    const name = pvc.metadata!.name!;
    const uid = pvc.metadata!.uid!;
    let pv: V1PersistentVolume | undefined;
    if (pvc.spec?.volumeName) {
      pv = this.caches.pv(pvc.spec.volumeName);
      if (!pv) return; // asks for a PV that does not exist (yet): stays Pending, as in Kubernetes
    } else {
      // A PV pre-bound to this claim by its creator.
      pv = this.caches
        .pvs()
        .find(
          (v) =>
            v.spec?.claimRef?.name === name &&
            v.spec.claimRef.namespace === ns &&
            (!v.spec.claimRef.uid || v.spec.claimRef.uid === uid) &&
            v.status?.phase !== 'Released',
        );
    }
    if (!pv) {
      const pvName = pvNameFor(pvc);
      const dir = this.pvDir(pvName);
      mkdirSync(dir, { recursive: true });
      const reclaim = await this.reclaimPolicy(pvc.spec?.storageClassName);
      try {
        pv = await this.api.post<V1PersistentVolume>('/api/v1/persistentvolumes', pvFor(pvc, dir, reclaim));
        this.log(`provisioned ${pvName} for ${ns}/${name} in ${dir}`);
      } catch (e) {
        if (!isConflict(e)) throw e;
        pv = await this.api.get<V1PersistentVolume>(`/api/v1/persistentvolumes/${pvName}`);
      }
    }
    const pvName = pv.metadata!.name!;
    if (pv.spec?.claimRef?.uid !== uid) {
      pv = await this.api.patch<V1PersistentVolume>(`/api/v1/persistentvolumes/${pvName}`, {
        spec: { claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: ns, name, uid } },
      });
    }
    if (pv.status?.phase !== 'Bound') {
      await this.api.patch(`/api/v1/persistentvolumes/${pvName}/status`, { status: { phase: 'Bound' } });
    }
    if (pvc.spec?.volumeName !== pvName) {
      await this.api.patch(`/api/v1/namespaces/${ns}/persistentvolumeclaims/${name}`, {
        metadata: {
          uid,
          annotations: {
            'pv.kubernetes.io/bind-completed': 'yes',
            'pv.kubernetes.io/bound-by-controller': 'yes',
            'volume.kubernetes.io/storage-provisioner': PROVISIONER,
          },
        },
        spec: { volumeName: pvName },
      });
    }
    await this.api.patch(
      `/api/v1/namespaces/${ns}/persistentvolumeclaims/${name}/status`,
      {
        metadata: { uid },
        status: {
          phase: 'Bound',
          accessModes: pv.spec?.accessModes,
          capacity: pv.spec?.capacity,
        },
      },
      CONTENT_TYPE.merge,
    );
  }

  private async reclaimPolicy(storageClassName: string | undefined): Promise<string> {
    if (!storageClassName) return 'Delete';
    try {
      const sc = await this.api.get<V1StorageClass>(
        `/apis/storage.k8s.io/v1/storageclasses/${storageClassName}`,
      );
      return sc.reclaimPolicy ?? 'Delete';
    } catch {
      return 'Delete';
    }
  }

  /** A claim is gone from the API server: release its PV. */
  claimGone(pvc: V1PersistentVolumeClaim): void {
    for (const pv of this.caches.pvs()) {
      if (pv.spec?.claimRef?.uid === pvc.metadata?.uid) void this.release(pv);
    }
  }

  /** A PV was added or changed: release it if its claim no longer exists (e.g. deleted while we were down). */
  volume(pv: V1PersistentVolume): void {
    const ref = pv.spec?.claimRef;
    if (this.stopped || !ref?.uid || pv.status?.phase === 'Released' || pv.metadata?.deletionTimestamp)
      return;
    if (pv.status?.phase !== 'Bound') return;
    const claim = this.caches.pvc(ref.namespace ?? '', ref.name ?? '');
    if (!claim || claim.metadata?.uid !== ref.uid) void this.release(pv);
  }

  private async release(pv: V1PersistentVolume): Promise<void> {
    const name = pv.metadata!.name!;
    if (this.inFlight.has(name)) return;
    this.inFlight.add(name);
    try {
      // Released first: the PV protection controller keeps its finalizer while the phase says Bound.
      if (pv.status?.phase !== 'Released') {
        await this.api.patch(`/api/v1/persistentvolumes/${name}/status`, { status: { phase: 'Released' } });
      }
      if (pv.spec?.persistentVolumeReclaimPolicy === 'Delete') {
        await this.api.delete(`/api/v1/persistentvolumes/${name}`).catch((e) => {
          if (!isNotFound(e)) throw e;
        });
        const dir = pv.spec.hostPath?.path ?? pv.spec.local?.path;
        if (dir && path.resolve(dir).startsWith(this.volumesDir + path.sep))
          rmSync(dir, { recursive: true, force: true });
        this.log(`deleted ${name} (claim ${pv.spec.claimRef?.namespace}/${pv.spec.claimRef?.name} gone)`);
      } else {
        this.log(`released ${name} (reclaim policy ${pv.spec?.persistentVolumeReclaimPolicy})`);
      }
    } catch (e) {
      if (!this.stopped) this.log(`releasing ${name}: ${(e as Error).message}`);
    } finally {
      this.inFlight.delete(name);
    }
  }
}
