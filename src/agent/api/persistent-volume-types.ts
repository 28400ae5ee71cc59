// PersistentVolume and PersistentVolumeClaim (core/v1) as the scheduler, the
// local-path provisioner and the PV controller read them, and the names of the
// storage contract (annotations, the provisioner, the class). object-types.ts
// leaves them out because only the storage code reads them.
import type { KubeObject } from './object-types.ts';
import type { LabelSelectorShape, NodeSelectorTerm } from '../scheduler/scheduling-shapes.ts';

export type AccessMode = 'ReadWriteOnce' | 'ReadOnlyMany' | 'ReadWriteMany' | 'ReadWriteOncePod';
export type ReclaimPolicy = 'Retain' | 'Delete' | 'Recycle';
export type VolumePhase = 'Pending' | 'Available' | 'Bound' | 'Released' | 'Failed';
export type ClaimPhase = 'Pending' | 'Bound' | 'Lost';

export const ACCESS_MODES: readonly AccessMode[] = ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod'];
export const RECLAIM_POLICIES: readonly ReclaimPolicy[] = ['Retain', 'Delete', 'Recycle'];

/** The dynamic provisioner of Mesh and the class that selects it (also what an unset class means). */
export const LOCAL_PATH_PROVISIONER = 'mesh.dev/local-path';
export const LOCAL_PATH_CLASS = 'local-path';

/** On a Node: the absolute directory its kubelet keeps local volumes in. */
export const LOCAL_VOLUME_ROOT_ANNOTATION = 'mesh.dev/local-volume-root';
export const SELECTED_NODE_ANNOTATION = 'volume.kubernetes.io/selected-node';
export const BIND_COMPLETED_ANNOTATION = 'pv.kubernetes.io/bind-completed';
export const BOUND_BY_CONTROLLER_ANNOTATION = 'pv.kubernetes.io/bound-by-controller';
export const STORAGE_PROVISIONER_ANNOTATION = 'volume.kubernetes.io/storage-provisioner';
export const PROVISIONED_BY_ANNOTATION = 'pv.kubernetes.io/provisioned-by';
/** The pre-1.6 way to name a class; Kubernetes still reads it before spec.storageClassName. */
export const BETA_STORAGE_CLASS_ANNOTATION = 'volume.beta.kubernetes.io/storage-class';

export interface ObjectReferenceShape {
  kind?: string;
  apiVersion?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  resourceVersion?: string;
}

export interface VolumeNodeAffinity {
  required?: { nodeSelectorTerms?: NodeSelectorTerm[] } | null;
}

export interface PersistentVolume extends KubeObject {
  spec?: {
    capacity?: Record<string, string | number>;
    accessModes?: string[];
    persistentVolumeReclaimPolicy?: string;
    storageClassName?: string | null;
    volumeMode?: string;
    claimRef?: ObjectReferenceShape | null;
    local?: { path?: string; fsType?: string } | null;
    hostPath?: { path?: string; type?: string } | null;
    nodeAffinity?: VolumeNodeAffinity | null;
    mountOptions?: string[];
    volumeAttributesClassName?: string | null;
  };
  status?: { phase?: VolumePhase | string; reason?: string; message?: string; lastPhaseTransitionTime?: string };
}

export interface PersistentVolumeClaim extends KubeObject {
  spec?: {
    accessModes?: string[];
    resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
    storageClassName?: string | null;
    volumeName?: string;
    volumeMode?: string;
    selector?: LabelSelectorShape | null;
    volumeAttributesClassName?: string | null;
  };
  status?: {
    phase?: ClaimPhase | string;
    accessModes?: string[];
    capacity?: Record<string, string | number>;
    conditions?: unknown[];
  };
}

/**
 * The class a claim asks for: the beta annotation, then spec.storageClassName.
 * Undefined means unset (Mesh's default class, local-path); '' means "no class".
 */
export function claimClass(pvc: PersistentVolumeClaim): string | undefined {
  const beta = pvc.metadata.annotations?.[BETA_STORAGE_CLASS_ANNOTATION];
  if (beta !== undefined) return beta;
  const c = pvc.spec?.storageClassName;
  return c === null || c === undefined ? undefined : c;
}

/** The class a volume belongs to; '' when it has none. */
export function volumeClass(pv: PersistentVolume): string {
  return pv.metadata.annotations?.[BETA_STORAGE_CLASS_ANNOTATION] ?? pv.spec?.storageClassName ?? '';
}

/** Unset and local-path claims are provisioned by Mesh's local-path provisioner. */
export function isLocalPathClaim(pvc: PersistentVolumeClaim): boolean {
  const c = claimClass(pvc);
  return c === undefined || c === LOCAL_PATH_CLASS;
}

/** The class a matching static volume must have: an unset class stands for the default, local-path. */
export function effectiveClaimClass(pvc: PersistentVolumeClaim): string {
  return claimClass(pvc) ?? LOCAL_PATH_CLASS;
}

/** The name of the volume dynamically provisioned for a claim. */
export function provisionedVolumeName(claimUid: string): string {
  return `pvc-${claimUid}`;
}

/** True when the volume's claimRef names this claim (and, when it carries a uid, this very claim). */
export function claimRefMatches(pv: PersistentVolume, pvc: PersistentVolumeClaim): boolean {
  const ref = pv.spec?.claimRef;
  if (!ref) return false;
  if (ref.name !== pvc.metadata.name || (ref.namespace ?? '') !== (pvc.metadata.namespace ?? '')) return false;
  return !ref.uid || ref.uid === pvc.metadata.uid;
}
