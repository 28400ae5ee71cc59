// metrics.k8s.io/v1beta1, served by every agent from its metrics cache: the
// API `kubectl top` reads. Paths and shapes follow metrics-server. Pods and
// nodes are listed from the local replica first, so label and field selectors
// work as on the core resources; an object without a fresh sample is left out
// of lists and is NotFound when asked for by name.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ObjectClient } from './object-client.ts';
import type { KubeObject } from './object-types.ts';
import { MethodNotAllowed, NotFound } from './errors.ts';
import { sendJson } from './http/respond.ts';
import type { MetricsCache, PodMetricsEntry } from '../metrics/metrics-cache.ts';
import type { NodeMetricsSample, Usage } from '../metrics/metrics-sample.ts';
import { cpuQuantity, goDuration, memoryQuantity } from '../metrics/quantity-format.ts';
import { podMetricsEntry } from '../metrics/pod-usage.ts';

export const METRICS_GROUP = 'metrics.k8s.io';
export const METRICS_VERSION = 'v1beta1';
const GROUP_VERSION = `${METRICS_GROUP}/${METRICS_VERSION}`;
const PREFIX = `/apis/${METRICS_GROUP}`;

export interface MetricsApi {
  /** The path this API answers under (and everything below it). */
  prefix: string;
  /** For /apis. */
  group: { name: string; versions: string[] };
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void>;
}

function usageDoc(u: Usage) {
  return { cpu: cpuQuantity(u.cpuNanoCores), memory: memoryQuantity(u.memoryWorkingSetBytes) };
}

function meta(obj: KubeObject) {
  return {
    name: obj.metadata.name,
    ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
    creationTimestamp: obj.metadata.creationTimestamp,
    ...(obj.metadata.labels ? { labels: obj.metadata.labels } : {}),
  };
}

export function nodeMetricsDoc(node: KubeObject, sample: NodeMetricsSample) {
  return {
    kind: 'NodeMetrics',
    apiVersion: GROUP_VERSION,
    metadata: meta(node),
    timestamp: sample.timestamp,
    window: goDuration(sample.windowSeconds),
    usage: usageDoc(sample.usage),
  };
}

export function podMetricsDoc(pod: KubeObject, entry: PodMetricsEntry) {
  return {
    kind: 'PodMetrics',
    apiVersion: GROUP_VERSION,
    metadata: meta(pod),
    timestamp: entry.node.timestamp,
    window: goDuration(entry.node.windowSeconds),
    containers: entry.pod.containers.map((c) => ({ name: c.name, usage: usageDoc(c.usage) })),
  };
}

export function metricsGroupDoc() {
  const v = { groupVersion: GROUP_VERSION, version: METRICS_VERSION };
  return { kind: 'APIGroup', apiVersion: 'v1', name: METRICS_GROUP, versions: [v], preferredVersion: v };
}

export function metricsResourceList() {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: GROUP_VERSION,
    resources: [
      { name: 'nodes', singularName: '', namespaced: false, kind: 'NodeMetrics', verbs: ['get', 'list'] },
      { name: 'pods', singularName: '', namespaced: true, kind: 'PodMetrics', verbs: ['get', 'list'] },
    ],
  };
}

const list = (kind: string, items: unknown[]) => ({ kind, apiVersion: GROUP_VERSION, metadata: {}, items });

export function createMetricsApi(opts: { cache: MetricsCache; client: ObjectClient }): MetricsApi {
  const { cache, client } = opts;

  const entryFor = (pod: KubeObject) => podMetricsEntry(cache, pod);

  function nodes(name: string | undefined, q: URLSearchParams) {
    if (name !== undefined) {
      const node = client.get('nodes', '', name);
      const sample = node && cache.node(name);
      if (!node || !sample) throw new NotFound(`nodemetrics.metrics.k8s.io "${name}" not found`, { name, group: METRICS_GROUP, kind: 'nodes' });
      return nodeMetricsDoc(node, sample);
    }
    const items = client
      .list('nodes', { labelSelector: q.get('labelSelector') ?? undefined, fieldSelector: q.get('fieldSelector') ?? undefined })
      .items.flatMap((n) => {
        const s = cache.node(n.metadata.name ?? '');
        return s ? [nodeMetricsDoc(n, s)] : [];
      });
    return list('NodeMetricsList', items);
  }

  function pods(namespace: string | undefined, name: string | undefined, q: URLSearchParams) {
    if (name !== undefined) {
      const pod = client.get('pods', namespace ?? 'default', name);
      const entry = pod && entryFor(pod);
      if (!pod || !entry) throw new NotFound(`podmetrics.metrics.k8s.io "${namespace}/${name}" not found`, { name, group: METRICS_GROUP, kind: 'pods' });
      return podMetricsDoc(pod, entry);
    }
    const items = client
      .list('pods', { namespace, labelSelector: q.get('labelSelector') ?? undefined, fieldSelector: q.get('fieldSelector') ?? undefined })
      .items.flatMap((p) => {
        const e = entryFor(p);
        return e ? [podMetricsDoc(p, e)] : [];
      });
    return list('PodMetricsList', items);
  }

  function resolve(path: string, q: URLSearchParams): unknown {
    const segs = path.split('/').filter(Boolean).map(decodeURIComponent).slice(2);
    if (segs.length === 0) return metricsGroupDoc();
    if (segs[0] !== METRICS_VERSION) return undefined;
    const rest = segs.slice(1);
    if (rest.length === 0) return metricsResourceList();
    if (rest[0] === 'nodes' && rest.length <= 2) return nodes(rest[1], q);
    if (rest[0] === 'pods' && rest.length === 1) return pods(undefined, undefined, q);
    if (rest[0] === 'namespaces' && rest[2] === 'pods' && rest.length >= 3 && rest.length <= 4) return pods(rest[1], rest[3], q);
    return undefined;
  }

  return {
    prefix: PREFIX,
    group: { name: METRICS_GROUP, versions: [METRICS_VERSION] },
    async handle(req, res, url) {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new MethodNotAllowed(`method ${req.method} is not supported on ${url.pathname}`);
      if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') {
        throw new MethodNotAllowed('metrics.k8s.io does not support watch');
      }
      const body = resolve(url.pathname.replace(/\/+$/, ''), url.searchParams);
      if (body === undefined) throw new NotFound('the server could not find the requested resource');
      sendJson(res, 200, body);
    },
  };
}
