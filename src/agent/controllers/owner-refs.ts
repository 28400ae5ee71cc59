// ownerReferences as the controllers and the garbage collector read and write
// them (Kubernetes' metav1 helpers). At most one reference is the controller;
// that is the one a workload controller claims, adopts and releases by.
import type { KubeObject, OwnerReference } from '../api/object-types.ts';

/** The reference marked `controller: true`, if any. */
export function controllerRef(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller === true);
}

/** True when `owner` (by uid) is obj's controller. */
export function isControlledBy(obj: KubeObject, owner: KubeObject): boolean {
  const ref = controllerRef(obj);
  return ref !== undefined && !!owner.metadata.uid && ref.uid === owner.metadata.uid;
}

/**
 * A controller reference to `owner`. blockOwnerDeletion makes a foreground
 * deletion of the owner wait until this dependent is gone.
 */
export function newControllerRef(owner: KubeObject, kind: string, apiVersion: string): OwnerReference {
  return {
    apiVersion,
    kind,
    name: owner.metadata.name ?? '',
    uid: owner.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** obj's references with the one to `uid` removed (undefined when none are left). */
export function withoutOwner(obj: KubeObject, uid: string): OwnerReference[] | undefined {
  const rest = (obj.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid);
  return rest.length ? rest : undefined;
}

/** A copy of obj with these ownerReferences (none: the field goes). */
export function withOwnerRefs<T extends KubeObject>(obj: T, refs: OwnerReference[] | undefined): T {
  const metadata = { ...obj.metadata };
  if (refs?.length) metadata.ownerReferences = refs;
  else delete metadata.ownerReferences;
  return { ...obj, metadata };
}

/** The API group of an apiVersion: `apps/v1` -> `apps`, `v1` -> ''. */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}
