// Serves the resource paths: get/list/watch, create, update, patch, delete and
// deletecollection, plus the status, binding, scale and log subresources.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../logger.ts';
import type { PodLogSource } from '../../kubelet/log-source.ts';
import type { KubeObject, Pod } from '../object-types.ts';
import type { Registry, RegistryDeleteOptions } from '../registry.ts';
import { resourceKey, type ResourceType } from '../resources.ts';
import { BadRequest, Conflict, MethodNotAllowed, UnsupportedMediaType, notFound } from '../errors.ts';
import { applyPatch } from '../patch/index.ts';
import { labelSelectorFromObject, type LabelSelectorObject } from '../selectors.ts';
import { renderTable } from '../table/index.ts';
import type { ResourceRoute } from './router.ts';
import { decodeObject, mediaType, readBody } from './request-body.ts';
import { sendJson, successStatus } from './respond.ts';
import { wantsTable, type TableRequest } from './negotiate.ts';
import { serveWatch, type WatchTracker } from './watch-stream.ts';
import { createVersionConversions, type VersionView } from '../version-conversion.ts';
import { servePodLogs } from './pod-logs.ts';

const PATCH_ATTEMPTS = 8;
// Reads see committed objects while a write's precondition meets the pending
// one, so a retry waits for a pending (fsyncing) write to land: 10 ms doubling.
const PATCH_RETRY_BASE_MS = 10;

/** Whether the patch sets metadata.resourceVersion itself (then a conflict is the client's to resolve). */
function patchPinsResourceVersion(type: string, current: KubeObject, patch: string): boolean {
  const probe = structuredClone(current);
  probe.metadata.resourceVersion = 'mesh-unpinned';
  try {
    return applyPatch(type, probe, patch).metadata?.resourceVersion !== 'mesh-unpinned';
  } catch {
    return true;
  }
}

export interface ResourceHandlerDeps {
  registry: Registry;
  logSource?: PodLogSource;
  watches: WatchTracker;
  maxBodyBytes: number;
  logger: Logger;
}

type IncludeObject = 'None' | 'Metadata' | 'Object';

// Kubernetes answers a delete of these with the object; of the rest with a Status.
const RETURNS_DELETED_OBJECT = new Set(['Pod', 'Service', 'Namespace']);

function boolParam(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v === 'true' || v === '1';
}

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new BadRequest(`${name}: invalid value "${v}", must be an integer`);
  return n;
}

function dryRun(q: URLSearchParams): boolean {
  const values = q.getAll('dryRun');
  for (const v of values) if (v !== 'All') throw new BadRequest(`dryRun: Unsupported value: "${v}": supported values: "All"`);
  return values.length > 0;
}

function includeObject(q: URLSearchParams): IncludeObject {
  const v = q.get('includeObject') ?? 'Metadata';
  if (v !== 'None' && v !== 'Metadata' && v !== 'Object') throw new BadRequest(`includeObject: Unsupported value: "${v}"`);
  return v;
}

function asTable(t: ResourceType, view: VersionView, objects: KubeObject[], table: TableRequest, include: IncludeObject, resourceVersion?: string) {
  const tbl = renderTable(t, objects, { includeObject: include, resourceVersion });
  // Cells come from the stored version (the one the printers know); the object a row carries is in the client's.
  if (!view.stored && include !== 'None') {
    tbl.rows.forEach((row, i) => {
      const served = view.toServed(objects[i]!);
      row.object = include === 'Object' ? served : { ...row.object!, metadata: served.metadata };
    });
  }
  const out = tbl as unknown as Record<string, unknown>;
  out.apiVersion = table.apiVersion; // v1beta1 clients get the same body under their version
  return out;
}

export function createResourceHandler(deps: ResourceHandlerDeps) {
  const { registry } = deps;
  const conversions = createVersionConversions();
  const viewOf = (route: ResourceRoute) => conversions.view(route.type, route.version);

  async function body(req: IncomingMessage): Promise<unknown> {
    return decodeObject(await readBody(req, deps.maxBodyBytes), req.headers['content-type']);
  }

  function mustGet(t: ResourceType, ns: string | undefined, name: string): KubeObject {
    const obj = registry.get(resourceKey(t), ns ?? '', name);
    if (!obj) throw notFound(t.plural, name, t.group);
    return obj;
  }

  function toScale(obj: KubeObject) {
    const spec = (obj.spec ?? {}) as { replicas?: number; selector?: LabelSelectorObject };
    const status = (obj.status ?? {}) as { replicas?: number };
    let selector = '';
    try {
      // The whole selector, expressions too (metav1.FormatLabelSelector): an autoscaler lists pods by it.
      selector = spec.selector ? labelSelectorFromObject(spec.selector).toString() : '';
    } catch {
      selector = Object.entries(spec.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
    }
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: {
        name: obj.metadata.name,
        namespace: obj.metadata.namespace,
        uid: obj.metadata.uid,
        resourceVersion: obj.metadata.resourceVersion,
        creationTimestamp: obj.metadata.creationTimestamp,
      },
      spec: { replicas: spec.replicas ?? 0 },
      status: { replicas: status.replicas ?? 0, selector },
    };
  }

  async function writeScale(t: ResourceType, route: ResourceRoute, scale: KubeObject, isDryRun: boolean, res: ServerResponse) {
    const obj = mustGet(t, route.namespace, route.name!);
    const replicas = (scale.spec as { replicas?: unknown } | undefined)?.replicas;
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
      throw new BadRequest('Scale.spec.replicas must be a non-negative integer');
    }
    if (scale.metadata?.resourceVersion) obj.metadata.resourceVersion = scale.metadata.resourceVersion;
    (obj.spec as { replicas?: number }).replicas = replicas;
    const updated = await registry.update(resourceKey(t), obj, { namespace: route.namespace, name: route.name, dryRun: isDryRun });
    sendJson(res, 200, toScale(updated));
  }

  async function handleGet(req: IncomingMessage, res: ServerResponse, route: ResourceRoute, q: URLSearchParams) {
    const t = route.type;
    const view = viewOf(route);
    const key = resourceKey(t);
    const table = wantsTable(req.headers.accept);
    const include = includeObject(q);
    const watch = route.legacyWatch || boolParam(q, 'watch');
    if (route.name && route.subresource === 'log') {
      const pod = mustGet(t, route.namespace, route.name) as Pod;
      return servePodLogs(req, res, pod, q, deps.logSource);
    }
    if (route.name && route.subresource === 'scale') return sendJson(res, 200, toScale(mustGet(t, route.namespace, route.name)));
    if (watch) {
      let fieldSelector = q.get('fieldSelector') ?? undefined;
      if (route.name) fieldSelector = [`metadata.name=${route.name}`, fieldSelector].filter(Boolean).join(',');
      return serveWatch(req, res, registry, deps.watches, {
        type: t,
        namespace: route.namespace,
        labelSelector: q.get('labelSelector') ?? undefined,
        fieldSelector,
        resourceVersion: q.get('resourceVersion') ?? undefined,
        timeoutSeconds: intParam(q, 'timeoutSeconds'),
        contentType: table ? table.contentType : 'application/json',
        // After the first event, Table rows come without column definitions (kubectl prints the header once).
        transform: table
          ? (obj, first) => {
              const tbl = asTable(t, view, [obj], table, include);
              if (!first) tbl.columnDefinitions = [];
              return tbl;
            }
          : (obj) => view.toServed(obj),
      }, deps.logger);
    }
    if (route.name) {
      // Tables of Secrets need only the shell (the keys), so `kubectl get secrets` works without the Raft quorum.
      const [obj] = await registry.reveal(key, [mustGet(t, route.namespace, route.name)], { keysOnly: !!table });
      return sendJson(res, 200, table ? asTable(t, view, [obj], table, include, obj.metadata.resourceVersion) : view.toServed(obj), table?.contentType);
    }
    // `limit`/`continue` are accepted but the whole list is always returned in one page.
    const result = registry.list(key, {
      namespace: route.namespace,
      labelSelector: q.get('labelSelector') ?? undefined,
      fieldSelector: q.get('fieldSelector') ?? undefined,
    });
    // Kubernetes lists come in key order (namespace, then name); clients and people expect it.
    result.items.sort(byNamespaceAndName);
    result.items = await registry.reveal(key, result.items, { keysOnly: !!table });
    if (table) return sendJson(res, 200, asTable(t, view, result.items, table, include, result.resourceVersion), table.contentType);
    sendJson(res, 200, {
      kind: t.listKind,
      apiVersion: view.apiVersion,
      metadata: { resourceVersion: result.resourceVersion },
      items: result.items.map(view.toServed),
    });
  }

  async function handlePost(req: IncomingMessage, res: ServerResponse, route: ResourceRoute, q: URLSearchParams) {
    const t = route.type;
    if (route.name && route.subresource === 'binding') {
      const binding = (await body(req)) as { metadata?: { name?: string }; target?: { name?: string } };
      if (binding?.metadata?.name && binding.metadata.name !== route.name) {
        throw new BadRequest('the name of the binding does not match the pod name on the URL');
      }
      const nodeName = binding?.target?.name;
      if (!nodeName) throw new BadRequest('Binding.target.name is required');
      await registry.bind(route.namespace ?? 'default', route.name, nodeName);
      return sendJson(res, 201, successStatus({ name: route.name, kind: 'pods' }));
    }
    if (route.name) throw new MethodNotAllowed(`POST is not supported on ${t.plural}/${route.name}${route.subresource ? '/' + route.subresource : ''}`);
    const view = viewOf(route);
    const obj = view.toStored((await body(req)) as KubeObject);
    const created = await registry.create(resourceKey(t), obj, { namespace: route.namespace, dryRun: dryRun(q) });
    sendJson(res, 201, view.toServed(created));
  }

  async function handlePut(req: IncomingMessage, res: ServerResponse, route: ResourceRoute, q: URLSearchParams) {
    const t = route.type;
    if (!route.name) throw new MethodNotAllowed(`PUT requires a name`);
    const obj = (await body(req)) as KubeObject;
    if (obj === null || typeof obj !== 'object') throw new BadRequest('the request body must be an object');
    const opts = { namespace: route.namespace, name: route.name, dryRun: dryRun(q) };
    if (route.subresource === 'scale') return writeScale(t, route, obj, opts.dryRun, res);
    const view = viewOf(route);
    if (route.subresource === 'status') return sendJson(res, 200, view.toServed(await registry.updateStatus(resourceKey(t), view.toStored(obj), opts)));
    if (route.subresource) throw new MethodNotAllowed(`PUT is not supported on ${t.plural}/${route.subresource}`);
    sendJson(res, 200, view.toServed(await registry.update(resourceKey(t), view.toStored(obj), opts)));
  }

  async function handlePatch(req: IncomingMessage, res: ServerResponse, route: ResourceRoute, q: URLSearchParams) {
    const t = route.type;
    if (!route.name) throw new MethodNotAllowed('PATCH requires a name');
    const type = mediaType(req.headers['content-type']);
    if (type === 'application/apply-patch+yaml') {
      throw new UnsupportedMediaType('server-side apply is not supported by Mesh; use client-side `kubectl apply` (without --server-side)');
    }
    const patch = await readBody(req, deps.maxBodyBytes);
    const opts = { namespace: route.namespace, name: route.name, dryRun: dryRun(q) };
    const view = viewOf(route);
    if (route.subresource && route.subresource !== 'scale' && route.subresource !== 'status') {
      throw new MethodNotAllowed(`PATCH is not supported on ${t.plural}/${route.subresource}`);
    }
    // As the Kubernetes API server does, a patch that does not name a
    // resourceVersion is applied to the newest object again when a concurrent
    // write (a controller's status update, say) wins the race.
    for (let attempt = 1; ; attempt++) {
      const [current] = await registry.reveal(resourceKey(t), [mustGet(t, route.namespace, route.name)]);
      try {
        if (route.subresource === 'scale') {
          const patched = applyPatch(type, toScale(current) as unknown as KubeObject, patch);
          return await writeScale(t, route, patched, opts.dryRun, res);
        }
        // A patch applies to the version the client sees, then goes back to the stored one.
        const patched = view.toStored(applyPatch(type, view.toServed(current), patch));
        const write = route.subresource === 'status' ? registry.updateStatus(resourceKey(t), patched, opts) : registry.update(resourceKey(t), patched, opts);
        return sendJson(res, 200, view.toServed(await write));
      } catch (err) {
        if (!(err instanceof Conflict) || attempt >= PATCH_ATTEMPTS || patchPinsResourceVersion(type, current, patch)) throw err;
        await new Promise((r) => setTimeout(r, PATCH_RETRY_BASE_MS * 2 ** (attempt - 1)));
      }
    }
  }

  async function deleteOptions(req: IncomingMessage, q: URLSearchParams): Promise<RegistryDeleteOptions> {
    const text = await readBody(req, deps.maxBodyBytes);
    const fromBody = (text.trim() ? decodeObject(text, req.headers['content-type'] ?? 'application/json') : {}) as RegistryDeleteOptions & {
      dryRun?: string[];
    };
    const opts: RegistryDeleteOptions = {
      gracePeriodSeconds: fromBody.gracePeriodSeconds ?? undefined,
      preconditions: fromBody.preconditions,
      propagationPolicy: fromBody.propagationPolicy,
      dryRun: Array.isArray(fromBody.dryRun) && fromBody.dryRun.includes('All'),
    };
    const grace = intParam(q, 'gracePeriodSeconds');
    if (grace !== undefined) opts.gracePeriodSeconds = grace;
    const policy = q.get('propagationPolicy');
    if (policy) {
      if (policy !== 'Orphan' && policy !== 'Background' && policy !== 'Foreground') {
        throw new BadRequest(`propagationPolicy: Unsupported value: "${policy}"`);
      }
      opts.propagationPolicy = policy;
    }
    if (dryRun(q)) opts.dryRun = true;
    return opts;
  }

  async function handleDelete(req: IncomingMessage, res: ServerResponse, route: ResourceRoute, q: URLSearchParams) {
    const t = route.type;
    const view = viewOf(route);
    const opts = await deleteOptions(req, q);
    if (route.subresource) throw new MethodNotAllowed(`DELETE is not supported on ${t.plural}/${route.subresource}`);
    if (!route.name) {
      const deleted = await registry.deleteCollection(resourceKey(t), {
        ...opts,
        namespace: route.namespace,
        labelSelector: q.get('labelSelector') ?? undefined,
        fieldSelector: q.get('fieldSelector') ?? undefined,
      });
      return sendJson(res, 200, { kind: t.listKind, apiVersion: view.apiVersion, metadata: { resourceVersion: registry.currentResourceVersion() }, items: deleted.map(view.toServed) });
    }
    const { object, removed } = await registry.deleteDetailed(resourceKey(t), route.namespace ?? '', route.name, opts);
    if (!removed || RETURNS_DELETED_OBJECT.has(t.kind)) return sendJson(res, 200, view.toServed(object));
    sendJson(res, 200, successStatus({ name: route.name, group: t.group, kind: t.plural, uid: object.metadata.uid }));
  }

  return async function handle(req: IncomingMessage, res: ServerResponse, route: ResourceRoute, q: URLSearchParams): Promise<void> {
    switch (req.method) {
      case 'GET':
        return handleGet(req, res, route, q);
      case 'POST':
        return handlePost(req, res, route, q);
      case 'PUT':
        return handlePut(req, res, route, q);
      case 'PATCH':
        return handlePatch(req, res, route, q);
      case 'DELETE':
        return handleDelete(req, res, route, q);
      default:
        throw new MethodNotAllowed(`method ${req.method} is not supported`);
    }
  };
}

/** Byte order, as etcd keys sort. */
function byNamespaceAndName(a: KubeObject, b: KubeObject): number {
  const ka = `${a.metadata.namespace ?? ''}/${a.metadata.name ?? ''}`;
  const kb = `${b.metadata.namespace ?? ''}/${b.metadata.name ?? ''}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
