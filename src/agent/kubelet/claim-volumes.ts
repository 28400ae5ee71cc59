// Pure: from a pod's persistentVolumeClaim volume to the host directory of the
// PersistentVolume bound to it (the storage contract: claim -> bound PV ->
// spec.local.path or spec.hostPath.path), and which deleted PVs' directories
// this node's kubelet removes.
import { isAbsolute, normalize } from 'node:path';
import {
  LOCAL_PATH_PROVISIONER,
  PROVISIONED_BY_ANNOTATION,
  type PersistentVolume as PersistentVolumeShape,
  type PersistentVolumeClaim as PersistentVolumeClaimShape,
} from '../api/persistent-volume-types.ts';
import { compileNodeSelectorTerms } from '../scheduler/node-selector.ts';
import { HOST_PATH_TYPES, isStrictlyUnder, type HostPathType } from './pod-volumes.ts';

export { LOCAL_PATH_PROVISIONER, PROVISIONED_BY_ANNOTATION, type PersistentVolumeShape, type PersistentVolumeClaimShape };

export interface NodeIdentity {
  name: string;
  labels: Readonly<Record<string, string>>;
}

export interface ClaimLookup {
  claim(namespace: string, name: string): PersistentVolumeClaimShape | undefined;
  volume(name: string): PersistentVolumeShape | undefined;
}

export type ClaimResolution =
  | {
      ok: true;
      volumeName: string;
      path: string;
      /** Under this node's local-volume-root: the kubelet creates the directory. */
      create: boolean;
      /** What must be at path: a directory for local volumes, the PV's type for hostPath ones. */
      hostPathType: HostPathType;
    }
  | { ok: false; message: string };

/** Whether the PV's required node affinity admits this node; a PV without one is reachable from every node. */
export function pvAvailableOn(pv: PersistentVolumeShape, node: NodeIdentity): boolean {
  const terms = pv.spec?.nodeAffinity?.required?.nodeSelectorTerms;
  if (!terms) return true;
  return compileNodeSelectorTerms(terms)(node.labels, node.name);
}

function pvPath(pv: PersistentVolumeShape): string | undefined {
  return pv.spec?.local?.path ?? pv.spec?.hostPath?.path;
}

export function resolveClaim(namespace: string, claimName: string, lookup: ClaimLookup, node: NodeIdentity, localVolumeRoot: string | undefined): ClaimResolution {
  const claim = lookup.claim(namespace, claimName);
  if (!claim) return { ok: false, message: `persistentvolumeclaim "${claimName}" not found` };
  const volumeName = claim.spec?.volumeName;
  if (claim.status?.phase !== 'Bound' || !volumeName) return { ok: false, message: `persistentvolumeclaim "${claimName}" not bound` };
  const pv = lookup.volume(volumeName);
  if (!pv) return { ok: false, message: `persistentvolume "${volumeName}" of persistentvolumeclaim "${claimName}" not found` };
  const ref = pv.spec?.claimRef;
  if (ref && (ref.name !== claimName || (ref.namespace ?? namespace) !== namespace || (ref.uid && claim.metadata.uid && ref.uid !== claim.metadata.uid))) {
    return { ok: false, message: `persistentvolume "${volumeName}" is bound to another claim than persistentvolumeclaim "${claimName}"` };
  }
  if (!pvAvailableOn(pv, node)) return { ok: false, message: `persistentvolume "${volumeName}" is not accessible from node "${node.name}" (node affinity)` };
  const raw = pvPath(pv);
  if (!raw || !isAbsolute(raw)) return { ok: false, message: `persistentvolume "${volumeName}" has no absolute spec.local.path or spec.hostPath.path` };
  const path = normalize(raw);
  const create = localVolumeRoot !== undefined && isStrictlyUnder(localVolumeRoot, path);
  let hostPathType: HostPathType = 'Directory';
  if (!pv.spec?.local?.path && pv.spec?.hostPath) {
    const t = (pv.spec.hostPath.type ?? '') as HostPathType;
    if (!HOST_PATH_TYPES.includes(t)) return { ok: false, message: `persistentvolume "${volumeName}": hostPath type "${t}" is not supported` };
    hostPathType = t;
  }
  return { ok: true, volumeName, path, create, hostPathType: create ? 'DirectoryOrCreate' : hostPathType };
}

/**
 * The directory to remove for a deleted PV, when it is this node's to remove:
 * provisioned by mesh.dev/local-path with reclaim policy Delete, its node
 * affinity naming this node, and its path strictly inside the local-volume-root.
 * (The caller still guards against symlinks on the way.)
 */
export function reclaimablePath(pv: PersistentVolumeShape, node: NodeIdentity, localVolumeRoot: string): string | undefined {
  if (pv.metadata.annotations?.[PROVISIONED_BY_ANNOTATION] !== LOCAL_PATH_PROVISIONER) return undefined;
  if (pv.spec?.persistentVolumeReclaimPolicy !== 'Delete') return undefined;
  if (!pv.spec.nodeAffinity?.required?.nodeSelectorTerms || !pvAvailableOn(pv, node)) return undefined;
  const raw = pvPath(pv);
  if (!raw || !isAbsolute(raw)) return undefined;
  const path = normalize(raw);
  return isStrictlyUnder(localVolumeRoot, path) ? path : undefined;
}
