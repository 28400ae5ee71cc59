// Identity helpers shared by the store implementations.

import { Invalid, conflict } from '../api/errors.ts';
import type { KubeObject } from '../api/object-types.ts';
import type { WriteOptions } from './object-store.ts';

export interface ObjectRef {
  resource: string;
  /** '' for cluster-scoped objects. */
  namespace: string;
  name: string;
}

export function objectKey(resource: string, namespace: string, name: string): string {
  // NUL cannot appear in a resource, namespace or name, so keys never collide.
  return `${resource}\u0000${namespace}\u0000${name}`;
}

/** The ref of an object handed to create/update; Invalid when name or uid is missing. */
export function refOf(resource: string, obj: KubeObject): ObjectRef & { uid: string } {
  const name = obj?.metadata?.name;
  const uid = obj?.metadata?.uid;
  if (!name) throw new Invalid(`${resource}: metadata.name is required by the store`);
  if (!uid) throw new Invalid(`${resource} "${name}": metadata.uid is required by the store`);
  return { resource, namespace: obj.metadata.namespace ?? '', name, uid };
}

/** Throws Conflict unless `current` satisfies the write's preconditions. */
export function checkPreconditions(resource: string, current: KubeObject, opts: WriteOptions | undefined): void {
  if (!opts) return;
  const name = current.metadata.name ?? '';
  if (opts.expectedResourceVersion !== undefined && opts.expectedResourceVersion !== current.metadata.resourceVersion) {
    throw conflict(resource, name);
  }
  if (opts.expectedUid !== undefined && opts.expectedUid !== current.metadata.uid) {
    throw conflict(resource, name);
  }
}

/**
 * A JSON-clean deep copy with metadata.resourceVersion set. Dropping `undefined`
 * fields here keeps stored objects identical to what a restart or a peer reads back.
 */
export function withResourceVersion(obj: KubeObject, rv: number): KubeObject {
  const copy = JSON.parse(JSON.stringify(obj)) as KubeObject;
  copy.metadata.resourceVersion = String(rv);
  return copy;
}
