// The contract of the replicated object store. Every implementation (the
// Automerge-backed one, and any in-memory fake) runs the shared contract suite
// in test/unit/store/object-store-contract.ts.
//
// The store knows nothing of validation or defaults: the API registry does that
// and hands the store complete objects. The store owns resourceVersion, the
// per-object CRDT, persistence and the watch stream.

import type { KubeObject } from '../api/object-types.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  type: WatchEventType;
  /** Resource key: `pods`, `deployments.apps`. */
  resource: string;
  /** The object after the change; for DELETED, the last state with the delete's resourceVersion. */
  object: KubeObject;
}

export interface ListResult {
  items: KubeObject[];
  /** The store's resourceVersion at the moment of the list: a watch from here misses nothing. */
  resourceVersion: string;
}

export interface WriteOptions {
  /** When set, the write fails with Conflict unless the stored object has this resourceVersion. */
  expectedResourceVersion?: string;
  /** When set, the write fails with Conflict unless the stored object has this uid. */
  expectedUid?: string;
}

export interface WatchOptions {
  /** Only events of this resource key; undefined means all resources. */
  resource?: string;
  /** Only events in this namespace. */
  namespace?: string;
  /**
   * Deliver every event after this resourceVersion first (from the retained
   * history), then live ones. Throws Gone when the history no longer reaches back
   * that far. Undefined or '0' means live events only.
   */
  sinceResourceVersion?: string;
}

export type Unsubscribe = () => void;

export interface ObjectStore {
  start(): Promise<void>;
  stop(): Promise<void>;

  /** Local read; no I/O. */
  get(resource: string, namespace: string, name: string): KubeObject | undefined;
  /** Local read of one resource (optionally one namespace); no I/O. */
  list(resource: string, namespace?: string): ListResult;

  /**
   * Stores a new object. `obj.metadata` is complete (uid, creationTimestamp,
   * name). The store sets metadata.resourceVersion. AlreadyExists if present.
   * Resolves only once the write is durable (fsync'd).
   */
  create(resource: string, obj: KubeObject): Promise<KubeObject>;
  /** Replaces an existing object. NotFound if absent; Conflict on a failed precondition. */
  update(resource: string, obj: KubeObject, opts?: WriteOptions): Promise<KubeObject>;
  /** Removes an object, leaving a tombstone so it never resurrects. NotFound if absent. */
  delete(resource: string, namespace: string, name: string, opts?: WriteOptions): Promise<KubeObject>;

  /** Subscribes to changes. The handler is called synchronously in change order. */
  watch(opts: WatchOptions, handler: (event: StoreEvent) => void): Unsubscribe;

  /** The newest resourceVersion this agent has applied. */
  currentResourceVersion(): string;
}
