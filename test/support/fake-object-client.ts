// A small in-memory ObjectClient for unit tests: get/list/create/update/
// updateStatus/delete/watch with namespace, simple field and label selectors,
// and the graceful-deletion marking of bound pods.
import { randomUUID } from 'node:crypto';
import type { DeleteOptions, ListOptions, ObjectClient, WatchRequest } from '../../src/agent/api/object-client.ts';
import type { KubeObject } from '../../src/agent/api/object-types.ts';
import type { StoreEvent } from '../../src/agent/store/object-store.ts';
import { alreadyExists, conflict, notFound } from '../../src/agent/api/errors.ts';

export interface FakeObjectClient extends ObjectClient {
  /** Every write, in order (for assertions). */
  readonly writes: { op: 'create' | 'update' | 'updateStatus' | 'delete'; resource: string; name: string; opts?: DeleteOptions }[];
}

function valueAt(obj: unknown, path: string): string | undefined {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur === undefined || cur === null ? undefined : String(cur);
}

function matchesFields(obj: KubeObject, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const neg = term.includes('!=');
    const [path, want] = term.split(neg ? '!=' : /==?/);
    const have = valueAt(obj, path.trim()) ?? '';
    return neg ? have !== want.trim() : have === want.trim();
  });
}

function matchesLabels(obj: KubeObject, selector: string | undefined): boolean {
  if (!selector) return true;
  const labels = obj.metadata.labels ?? {};
  return selector.split(',').every((raw) => {
    const term = raw.trim();
    if (term.includes('!=')) {
      const [k, v] = term.split('!=');
      return labels[k] !== v;
    }
    if (term.includes('=')) {
      const [k, v] = term.split(/==?/);
      return labels[k] === v;
    }
    if (term.startsWith('!')) return !(term.slice(1) in labels);
    return term in labels;
  });
}

function matches(obj: KubeObject, opts: ListOptions): boolean {
  if (opts.namespace && obj.metadata.namespace !== opts.namespace) return false;
  return matchesFields(obj, opts.fieldSelector) && matchesLabels(obj, opts.labelSelector);
}

export function createFakeObjectClient(): FakeObjectClient {
  const data = new Map<string, Map<string, KubeObject>>();
  const watchers = new Set<{ resource: string; req: WatchRequest; handler: (e: StoreEvent) => void }>();
  const writes: FakeObjectClient['writes'] = [];
  let rv = 1;

  const bucket = (resource: string) => {
    let b = data.get(resource);
    if (!b) data.set(resource, (b = new Map()));
    return b;
  };
  const keyOf = (ns: string | undefined, name: string | undefined) => `${ns ?? ''}/${name ?? ''}`;

  function emit(resource: string, type: StoreEvent['type'], before: KubeObject | undefined, after: KubeObject): void {
    for (const w of watchers) {
      if (w.resource !== resource) continue;
      const was = before !== undefined && matches(before, w.req);
      const is = matches(after, w.req);
      // Like Kubernetes: entering or leaving a selector looks like ADDED / DELETED.
      let t: StoreEvent['type'] | undefined;
      if (type === 'DELETED') t = was ? 'DELETED' : undefined;
      else if (is) t = was ? type : 'ADDED';
      else if (was) t = 'DELETED';
      if (t) w.handler({ type: t, resource, object: structuredClone(after) });
    }
  }

  function store(resource: string, obj: KubeObject, type: 'ADDED' | 'MODIFIED', before?: KubeObject): KubeObject {
    obj.metadata.resourceVersion = String(++rv);
    bucket(resource).set(keyOf(obj.metadata.namespace, obj.metadata.name), obj);
    emit(resource, type, before, obj);
    return structuredClone(obj);
  }

  function existing(resource: string, obj: KubeObject): KubeObject {
    const cur = bucket(resource).get(keyOf(obj.metadata.namespace, obj.metadata.name));
    if (!cur) throw notFound(resource, obj.metadata.name ?? '');
    if (obj.metadata.resourceVersion && obj.metadata.resourceVersion !== cur.metadata.resourceVersion) {
      throw conflict(resource, obj.metadata.name ?? '');
    }
    return cur;
  }

  const client: FakeObjectClient = {
    writes,
    get<T extends KubeObject>(resource: string, namespace: string, name: string) {
      const o = bucket(resource).get(keyOf(namespace || undefined, name)) ?? bucket(resource).get(keyOf(namespace, name));
      return o ? (structuredClone(o) as T) : undefined;
    },
    list<T extends KubeObject>(resource: string, opts: ListOptions = {}) {
      const items = [...bucket(resource).values()].filter((o) => matches(o, opts)).map((o) => structuredClone(o) as T);
      return { items, resourceVersion: String(rv) };
    },
    async create<T extends KubeObject>(resource: string, obj: T) {
      writes.push({ op: 'create', resource, name: obj.metadata.name ?? '' });
      const k = keyOf(obj.metadata.namespace, obj.metadata.name);
      if (bucket(resource).has(k)) throw alreadyExists(resource, obj.metadata.name ?? '');
      const copy = structuredClone(obj);
      copy.metadata.uid ??= randomUUID();
      copy.metadata.creationTimestamp ??= new Date().toISOString();
      return store(resource, copy, 'ADDED') as T;
    },
    async update<T extends KubeObject>(resource: string, obj: T) {
      writes.push({ op: 'update', resource, name: obj.metadata.name ?? '' });
      const cur = existing(resource, obj);
      const next = structuredClone(obj) as KubeObject;
      if ('status' in cur) next.status = structuredClone(cur.status);
      else delete next.status;
      next.metadata = { ...next.metadata, uid: cur.metadata.uid, creationTimestamp: cur.metadata.creationTimestamp };
      return store(resource, next, 'MODIFIED', cur) as T;
    },
    async updateStatus<T extends KubeObject>(resource: string, obj: T) {
      writes.push({ op: 'updateStatus', resource, name: obj.metadata.name ?? '' });
      const cur = existing(resource, obj);
      const next = structuredClone(cur);
      next.status = structuredClone(obj.status);
      return store(resource, next, 'MODIFIED', cur) as T;
    },
    async delete(resource: string, namespace: string, name: string, opts: DeleteOptions = {}) {
      writes.push({ op: 'delete', resource, name, opts });
      const k = keyOf(namespace || undefined, name);
      const b = bucket(resource);
      const cur = b.get(k) ?? b.get(keyOf(namespace, name));
      if (!cur) throw notFound(resource, name);
      if (opts.preconditions?.uid && opts.preconditions.uid !== cur.metadata.uid) throw conflict(resource, name);
      const spec = cur.spec as { nodeName?: string; terminationGracePeriodSeconds?: number } | undefined;
      if (resource === 'pods' && spec?.nodeName && opts.gracePeriodSeconds !== 0) {
        if (cur.metadata.deletionTimestamp) return structuredClone(cur);
        const grace = opts.gracePeriodSeconds ?? spec.terminationGracePeriodSeconds ?? 30;
        const next = structuredClone(cur);
        next.metadata.deletionTimestamp = new Date(Date.now() + grace * 1000).toISOString();
        next.metadata.deletionGracePeriodSeconds = grace;
        return store(resource, next, 'MODIFIED', cur);
      }
      b.delete(keyOf(cur.metadata.namespace, cur.metadata.name));
      const gone = structuredClone(cur);
      gone.metadata.resourceVersion = String(++rv);
      emit(resource, 'DELETED', cur, gone);
      return structuredClone(gone);
    },
    watch(resource: string, req: WatchRequest, handler: (event: StoreEvent) => void) {
      const w = { resource, req, handler };
      watchers.add(w);
      return () => {
        watchers.delete(w);
      };
    },
  };
  return client;
}
