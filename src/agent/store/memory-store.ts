// An in-memory ObjectStore with the same semantics as the Automerge store:
// for unit tests of the components above the store, and as the reference the
// shared contract suite is checked against.

import { alreadyExists, notFound } from '../api/errors.ts';
import type { KubeObject } from '../api/object-types.ts';
import type { ListResult, ObjectStore, StoreEvent, WriteOptions } from './object-store.ts';
import { checkPreconditions, objectKey, refOf, withResourceVersion } from './object-key.ts';
import { createWatchHub } from './watch-hub.ts';
import { jsonEqual } from './json-equal.ts';

function withoutResourceVersion(o: KubeObject): KubeObject {
  return { ...o, metadata: { ...o.metadata, resourceVersion: undefined } };
}

export interface MemoryStoreOptions {
  /** Watch events retained for resuming watches; default 10,000. */
  historyLimit?: number;
}

export function createMemoryStore(opts: MemoryStoreOptions = {}): ObjectStore {
  // resource -> key -> object (with its resourceVersion)
  const byResource = new Map<string, Map<string, KubeObject>>();
  let rv = 0;
  const hub = createWatchHub({ historyLimit: opts.historyLimit ?? 10_000, startResourceVersion: 0 });

  function table(resource: string): Map<string, KubeObject> {
    let t = byResource.get(resource);
    if (!t) {
      t = new Map();
      byResource.set(resource, t);
    }
    return t;
  }

  function commit(event: StoreEvent): KubeObject {
    hub.publish(event, Number(event.object.metadata.resourceVersion));
    return structuredClone(event.object);
  }

  return {
    async start() {},
    async stop() {},

    get(resource, namespace, name) {
      const o = byResource.get(resource)?.get(objectKey(resource, namespace, name));
      return o ? structuredClone(o) : undefined;
    },

    list(resource, namespace): ListResult {
      const items: KubeObject[] = [];
      for (const o of byResource.get(resource)?.values() ?? []) {
        if (namespace === undefined || (o.metadata.namespace ?? '') === namespace) items.push(structuredClone(o));
      }
      return { items, resourceVersion: String(rv) };
    },

    async create(resource, obj) {
      const ref = refOf(resource, obj);
      const key = objectKey(resource, ref.namespace, ref.name);
      const t = table(resource);
      if (t.has(key)) throw alreadyExists(resource, ref.name);
      const stored = withResourceVersion(obj, ++rv);
      t.set(key, stored);
      return commit({ type: 'ADDED', resource, object: stored });
    },

    async update(resource, obj, wopts?: WriteOptions) {
      const ref = refOf(resource, obj);
      const key = objectKey(resource, ref.namespace, ref.name);
      const t = table(resource);
      const current = t.get(key);
      if (!current) throw notFound(resource, ref.name);
      checkPreconditions(resource, current, wopts);
      // As in Kubernetes, a uid in the body acts as a precondition: an update never switches incarnation.
      checkPreconditions(resource, current, { expectedUid: ref.uid });
      // Kubernetes does not bump resourceVersion (or emit an event) for a no-op update.
      if (jsonEqual(withoutResourceVersion(current), withoutResourceVersion(obj))) return structuredClone(current);
      const stored = withResourceVersion(obj, ++rv);
      t.set(key, stored);
      return commit({ type: 'MODIFIED', resource, object: stored });
    },

    async delete(resource, namespace, name, wopts?: WriteOptions) {
      const key = objectKey(resource, namespace, name);
      const t = table(resource);
      const current = t.get(key);
      if (!current) throw notFound(resource, name);
      checkPreconditions(resource, current, wopts);
      t.delete(key);
      const last = withResourceVersion(current, ++rv);
      return commit({ type: 'DELETED', resource, object: last });
    },

    watch(wopts, handler) {
      return hub.watch(wopts, handler);
    },

    currentResourceVersion() {
      return String(rv);
    },
  };
}
