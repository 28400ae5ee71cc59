// Wires the metrics parts of one agent: the collector samples this node, gossip
// shares the samples, the cache answers metrics.k8s.io for the whole cluster,
// and /metrics exposes the agent to Prometheus. agent.ts starts it and hands
// the routes and the request hook to the API server.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger.ts';
import type { ObjectClient } from '../api/object-client.ts';
import type { Pod } from '../api/object-types.ts';
import type { PrefixRoute } from '../api/server.ts';
import { RESOURCE_TYPES, resourceKey } from '../api/resources.ts';
import { createMetricsApi } from '../api/metrics-api.ts';
import { requestLabels } from '../api/request-labels.ts';
import type { ContainerRuntime } from '../kubelet/container-runtime.ts';
import { createMetricsCollector } from '../kubelet/metrics-collector.ts';
import { createProcNodeUsage, type NodeUsageReader } from '../kubelet/node-usage.ts';
import type { MeshHost } from '../../net/mesh-host.ts';
import { createMetricsCache, type MetricsCache } from './metrics-cache.ts';
import { createMetricsGossip } from './metrics-gossip.ts';
import { createAgentMetrics, type AgentMetrics, type AgentMetricsSources, type MemberView } from './prometheus.ts';

export interface AgentMetricsDeps {
  nodeName: string;
  runtime: Pick<ContainerRuntime, 'listContainers' | 'stats'>;
  host: Pick<MeshHost, 'publish' | 'subscribe'>;
  members: () => MemberView[];
  nodeNameOf: (peerId: string) => string | undefined;
  client: ObjectClient;
  resourceVersion: () => string;
  replication: () => { changes: number; incarnations: number };
  logger: Logger;
  /** Sampling interval (default 10 s). */
  intervalMs?: number;
  raft?: AgentMetricsSources['raft'];
  proxySync?: AgentMetricsSources['proxySync'];
  nodeUsage?: NodeUsageReader;
}

export interface RunningMetrics {
  cache: MetricsCache;
  prometheus: AgentMetrics;
  /** metrics.k8s.io and /metrics. */
  routes: PrefixRoute[];
  onRequestDone(r: { method: string; url: URL; status: number; seconds: number }): void;
  stop(): Promise<void>;
}

export function startAgentMetrics(deps: AgentMetricsDeps): RunningMetrics {
  const { client, nodeName } = deps;
  const cache = createMetricsCache();
  const gossip = createMetricsGossip({ host: deps.host, cache, nodeNameOf: deps.nodeNameOf, logger: deps.logger });
  gossip.start();
  const collector = createMetricsCollector({
    nodeName,
    runtime: deps.runtime,
    nodeUsage: deps.nodeUsage ?? createProcNodeUsage(),
    intervalMs: deps.intervalMs,
    logger: deps.logger,
    onSample: (s) => void gossip.publish(s),
  });
  collector.start();

  const prometheus = createAgentMetrics({
    nodeName,
    sources: {
      storeObjects: () => Object.fromEntries(RESOURCE_TYPES.map((t) => [resourceKey(t), client.list(resourceKey(t)).items.length])),
      resourceVersion: deps.resourceVersion,
      replication: deps.replication,
      members: deps.members,
      pendingPods: () => client.list<Pod>('pods').items.filter((p) => !p.spec.nodeName && !p.metadata.deletionTimestamp).length,
      runningPods: () =>
        client.list<Pod>('pods', { fieldSelector: `spec.nodeName=${nodeName}` }).items.filter((p) => p.status?.phase === 'Running').length,
      metricsNodes: () => cache.nodes().length,
      ...(deps.raft ? { raft: deps.raft } : {}),
      ...(deps.proxySync ? { proxySync: deps.proxySync } : {}),
    },
  });
  const metricsApi = createMetricsApi({ cache, client });
  const prometheusRoute: PrefixRoute = {
    prefix: '/metrics',
    async handle(_req: IncomingMessage, res: ServerResponse) {
      const { contentType, text } = await prometheus.render();
      res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    },
  };

  return {
    cache,
    prometheus,
    routes: [metricsApi, prometheusRoute],
    onRequestDone(r) {
      prometheus.observeRequest({ ...requestLabels(r.method, r.url), code: r.status, seconds: r.seconds });
    },
    async stop() {
      gossip.stop();
      await collector.stop();
    },
  };
}
