// What in-process components (kubelet, binder, later the controllers) use to
// read and write cluster objects. The API registry implements it, so in-process
// writes get the same defaults, validation and metadata handling as HTTP ones.

import type { KubeObject } from './object-types.ts';
import type { StoreEvent, Unsubscribe } from '../store/object-store.ts';

export interface ListOptions {
  namespace?: string;
  /** Kubernetes label selector syntax: `app=web,tier!=db,env in (a,b),!legacy`. */
  labelSelector?: string;
  /** Kubernetes field selector syntax: `spec.nodeName=n1,status.phase!=Running`. */
  fieldSelector?: string;
}

export interface WatchRequest extends ListOptions {
  resourceVersion?: string;
}

export interface DeleteOptions {
  /** Seconds to wait before force-removal; 0 removes at once. */
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
}

export interface ObjectClient {
  get<T extends KubeObject = KubeObject>(resource: string, namespace: string, name: string): T | undefined;
  list<T extends KubeObject = KubeObject>(resource: string, opts?: ListOptions): { items: T[]; resourceVersion: string };
  create<T extends KubeObject>(resource: string, obj: T): Promise<T>;
  /** Full update; Conflict when obj.metadata.resourceVersion is stale. Status changes are ignored. */
  update<T extends KubeObject>(resource: string, obj: T): Promise<T>;
  /** The status subresource: only `status` is taken from obj. */
  updateStatus<T extends KubeObject>(resource: string, obj: T): Promise<T>;
  /**
   * Deletes. Pods bound to a node (and objects with finalizers) are only marked
   * (deletionTimestamp) unless gracePeriodSeconds is 0; the node's kubelet
   * removes them after the containers stop.
   */
  delete(resource: string, namespace: string, name: string, opts?: DeleteOptions): Promise<KubeObject | undefined>;
  /** Events matching the filters, from resourceVersion on (live only when absent). */
  watch(resource: string, req: WatchRequest, handler: (event: StoreEvent) => void): Unsubscribe;
}
