// The seams the replication layer (gossip + anti-entropy, a later issue) plugs
// into. The store produces one Automerge change per local write and accepts
// change messages from peers; moving them over the network is not its job.

import type { Unsubscribe } from './object-store.ts';

/** Identifies one incarnation of an object: its doc is keyed by uid. */
export interface IncarnationRef {
  resource: string;
  /** '' for cluster-scoped objects. */
  namespace: string;
  name: string;
  uid: string;
}

/** Emitted after a local write is durable: what to gossip. */
export interface LocalChange extends IncarnationRef {
  /** The local resourceVersion the write got (for logs; peers assign their own). */
  resourceVersion: string;
  /** One encoded Automerge change. */
  change: Uint8Array;
}

export interface RemoteChange extends IncarnationRef {
  changes: Uint8Array[];
}

/**
 * - applied:       the object was created, changed or deleted locally (a watch event was emitted)
 * - unchanged:     every change was known already, or its dependencies are missing (anti-entropy resends)
 * - tombstoned:    the incarnation is deleted here; its doc was updated, nothing is served
 * - name-conflict: another live incarnation holds the name; nothing was applied (policy is the replication issue's)
 */
export type RemoteApplyResult = 'applied' | 'unchanged' | 'tombstoned' | 'name-conflict';

export interface ReplicationSeam {
  /** Called once per durable local write, in resourceVersion order. */
  onLocalChange(listener: (change: LocalChange) => void): Unsubscribe;
  /** Merges peers' changes into an incarnation's doc, re-materialises and persists it. Resolves once durable. */
  applyRemoteChanges(msg: RemoteChange): Promise<RemoteApplyResult>;
  /** The saved doc of an incarnation (live or tombstoned), for anti-entropy. */
  exportDoc(uid: string): Uint8Array | undefined;
}
