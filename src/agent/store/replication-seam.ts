// The seams the replication layer (replicator.ts) plugs into. The store produces
// one Automerge change per local write and accepts peers' changes and whole
// saved docs; moving them over the network is not its job.

import type { KubeObject } from '../api/object-types.ts';
import type { Unsubscribe } from './object-store.ts';

/** Identifies one incarnation of an object: its doc is keyed by uid. */
export interface IncarnationRef {
  resource: string;
  /** '' for cluster-scoped objects. */
  namespace: string;
  name: string;
  uid: string;
}

/** What anti-entropy compares, per incarnation (live or tombstoned). */
export interface IncarnationInfo extends IncarnationRef {
  /** Sorted heads of the incarnation's doc. */
  heads: readonly string[];
  /** Changes in the doc. */
  changes: number;
  /** Encoded HLC of the create ('' if unknown). */
  created: string;
  live: boolean;
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
 * Decides whether a peer's change to an object may be accepted (writer
 * authorization, DESIGN.md §3). `author` is the agent id recorded in the change
 * (the writing agent, whichever peer relayed it); `before` / `after` are the
 * object at the change's dependencies and with the change on top (undefined
 * when absent or deleted). Must be a pure function of its arguments: every
 * agent has to reach the same verdict, or their docs diverge.
 */
export interface Authorize {
  (author: string | undefined, before: KubeObject | undefined, after: KubeObject | undefined, resource: string): boolean;
  /** When set, only changes to these resource keys are checked (the check costs a doc view per change). */
  resources?: ReadonlySet<string>;
}

export interface RemoteApplyOptions {
  authorize?: Authorize;
  /** Told the hash of every refused change. */
  onReject?(hash: string): void;
}

/**
 * - applied:    the object was created, changed or deleted locally (watch events were emitted)
 * - unchanged:  every change was known already, or its dependencies are missing (anti-entropy resends)
 * - tombstoned: the incarnation is deleted here; its doc was updated, nothing is served
 * - superseded: a new incarnation lost its name to another incarnation with a greater
 *               (create HLC, uid); it was stored as a tombstone, nothing is served
 * - rejected:   the authorize hook refused every new change; nothing was stored
 */
export type RemoteApplyResult = 'applied' | 'unchanged' | 'tombstoned' | 'superseded' | 'rejected';

export interface ReplicationSeam {
  /** Called once per durable local write, in resourceVersion order. */
  onLocalChange(listener: (change: LocalChange) => void): Unsubscribe;
  /** Merges peers' changes into an incarnation's doc, re-materialises and persists it. Resolves once durable. */
  applyRemoteChanges(msg: RemoteChange, opts?: RemoteApplyOptions): Promise<RemoteApplyResult>;
  /** Merges a peer's whole saved doc (anti-entropy); same results and checks as applyRemoteChanges. */
  applyRemoteDoc(ref: IncarnationRef, doc: Uint8Array, opts?: RemoteApplyOptions): Promise<RemoteApplyResult>;
  /** The saved doc of an incarnation (live or tombstoned), for anti-entropy. */
  exportDoc(uid: string): Uint8Array | undefined;
  /** Every durable incarnation, live and tombstoned (anti-entropy digests). */
  incarnations(): IterableIterator<IncarnationInfo>;
  incarnation(uid: string): IncarnationInfo | undefined;
  /** True when the incarnation's doc already holds every one of these change hashes. */
  hasChanges(uid: string, hashes: readonly string[]): boolean;
  /** Total changes across all docs (`mesh status`: equal on converged agents). */
  changeCount(): number;
}
