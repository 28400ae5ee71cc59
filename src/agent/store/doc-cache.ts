// A small LRU of live Automerge docs. DESIGN.md §5: thousands of live docs in
// WASM collapse, so everything else stays as saved bytes; an evicted doc is freed.

import { freeObjectDoc, type ObjectDoc } from './object-doc.ts';

export interface DocCache {
  get(uid: string): ObjectDoc | undefined;
  /**
   * Stores the newest version of a doc. The version it replaces must be its
   * predecessor (from get + change): both share one WASM handle, so it is not freed.
   */
  set(uid: string, doc: ObjectDoc): void;
  drop(uid: string): void;
  clear(): void;
}

export function createDocCache(capacity: number): DocCache {
  const docs = new Map<string, ObjectDoc>();
  return {
    get(uid) {
      const d = docs.get(uid);
      if (d !== undefined) {
        docs.delete(uid);
        docs.set(uid, d);
      }
      return d;
    },
    set(uid, doc) {
      docs.delete(uid);
      docs.set(uid, doc);
      while (docs.size > capacity) {
        const [oldest, d] = docs.entries().next().value!;
        docs.delete(oldest);
        safeFree(d);
      }
    },
    drop(uid) {
      const d = docs.get(uid);
      if (d !== undefined) safeFree(d);
      docs.delete(uid);
    },
    clear() {
      for (const d of docs.values()) safeFree(d);
      docs.clear();
    },
  };
}

// Freeing twice throws; the memory is released either way.
function safeFree(doc: ObjectDoc): void {
  try {
    freeObjectDoc(doc);
  } catch {
    /* already released */
  }
}
