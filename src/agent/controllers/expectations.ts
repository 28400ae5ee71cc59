// Kubernetes' controller expectations: what a controller's own writes should
// make it see before it trusts its view again. Before creating n pods it
// expects n creations; before deleting pods it expects those uids to go. Until
// the watch has shown them (or the writes failed, or the expectations expired),
// the controller does not create or delete more, so a view that lags its own
// writes never makes it act twice.

export interface Expectations {
  expectCreations(key: string, count: number): void;
  /** A create was seen by the watch, or failed (it will never be seen). */
  creationObserved(key: string): void;
  expectDeletions(key: string, uids: readonly string[]): void;
  /** The pod is gone or being deleted, or the delete failed. */
  deletionObserved(key: string, uid: string): void;
  /** True when nothing is outstanding for key, or what is has expired. */
  satisfied(key: string): boolean;
  forget(key: string): void;
  clear(): void;
}

interface Pending {
  creations: number;
  deletions: Set<string>;
  setAt: number;
}

export function createExpectations(opts: { clock?: () => Date; timeoutMs?: number } = {}): Expectations {
  const clock = opts.clock ?? (() => new Date());
  // Kubernetes' ExpectationsTimeout: a write whose event never comes stops blocking after 5 min.
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const pending = new Map<string, Pending>();

  function entry(key: string): Pending {
    let p = pending.get(key);
    if (!p) pending.set(key, (p = { creations: 0, deletions: new Set(), setAt: clock().getTime() }));
    return p;
  }

  return {
    expectCreations(key, count) {
      if (count <= 0) return;
      const p = entry(key);
      p.creations += count;
      p.setAt = clock().getTime();
    },
    creationObserved(key) {
      const p = pending.get(key);
      if (p && p.creations > 0) p.creations--;
    },
    expectDeletions(key, uids) {
      if (uids.length === 0) return;
      const p = entry(key);
      for (const uid of uids) p.deletions.add(uid);
      p.setAt = clock().getTime();
    },
    deletionObserved(key, uid) {
      pending.get(key)?.deletions.delete(uid);
    },
    satisfied(key) {
      const p = pending.get(key);
      if (!p) return true;
      if ((p.creations <= 0 && p.deletions.size === 0) || clock().getTime() - p.setAt >= timeoutMs) {
        pending.delete(key);
        return true;
      }
      return false;
    },
    forget(key) {
      pending.delete(key);
    },
    clear() {
      pending.clear();
    },
  };
}
