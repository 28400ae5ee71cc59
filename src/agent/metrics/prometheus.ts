// The agent's Prometheus metrics, in a registry of its own (several agents may
// share a process in tests): process metrics, API request latency, gossip lag,
// store size, replication, the binding queue and this node's pods. Gauges read
// their sources at scrape time, so nothing here runs between scrapes.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface MemberView {
  nodeName: string;
  status: string;
  /** ms since the epoch of the last heartbeat. */
  lastSeen: number;
  self: boolean;
}

export interface RaftReading {
  term: number;
  commit: number;
  applied: number;
  leading: boolean;
}

export interface AgentMetricsSources {
  /** Object count per resource key. */
  storeObjects: () => Record<string, number>;
  resourceVersion: () => string;
  replication: () => { changes: number; incarnations: number };
  members: () => MemberView[];
  /** Pods waiting to be bound to a node. */
  pendingPods: () => number;
  /** Pods bound to this node whose phase is Running. */
  runningPods: () => number;
  /** Nodes with a fresh usage sample in the metrics cache. */
  metricsNodes: () => number;
  /** This agent's Raft member: term, commit and applied index, and whether it leads with a valid lease. */
  raft?: () => RaftReading;
  /** The service proxy's last rule sync, if this node runs one. */
  proxySync?: () => { seconds: number | undefined; syncs: number; failures: number };
}

export interface AgentMetrics {
  readonly registry: Registry;
  observeRequest(r: { verb: string; resource: string; code: number; seconds: number }): void;
  /** The exposition text and its content type. */
  render(): Promise<{ contentType: string; text: string }>;
}

export interface AgentMetricsOptions {
  nodeName: string;
  sources: AgentMetricsSources;
  now?: () => number;
  /** Process metrics (CPU, memory, event loop lag, ...); on by default. */
  processMetrics?: boolean;
}

// apiserver_request_duration_seconds' buckets, trimmed: local reads are fast.
const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 5, 10, 30, 60];

export function createAgentMetrics(opts: AgentMetricsOptions): AgentMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node: opts.nodeName });
  const now = opts.now ?? Date.now;
  const s = opts.sources;
  const registers = [registry];
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry });

  const latency = new Histogram({
    name: 'apiserver_request_duration_seconds',
    help: 'API request latency by verb, resource and HTTP code.',
    labelNames: ['verb', 'resource', 'code'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const requests = new Counter({
    name: 'apiserver_request_total',
    help: 'API requests by verb, resource and HTTP code.',
    labelNames: ['verb', 'resource', 'code'],
    registers,
  });

  new Gauge({
    name: 'mesh_gossip_heartbeat_age_seconds',
    help: 'Time since the newest heartbeat of each peer arrived (gossip lag).',
    labelNames: ['peer'],
    registers,
    collect() {
      this.reset();
      const t = now();
      for (const m of s.members()) if (!m.self && m.status !== 'left') this.set({ peer: m.nodeName }, Math.max(0, (t - m.lastSeen) / 1000));
    },
  });
  new Gauge({
    name: 'mesh_members',
    help: 'Known cluster members by status, this agent included.',
    labelNames: ['status'],
    registers,
    collect() {
      this.reset();
      const counts: Record<string, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
      for (const m of s.members()) counts[m.status] = (counts[m.status] ?? 0) + 1;
      for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
    },
  });
  new Gauge({
    name: 'mesh_store_objects',
    help: 'Objects in this agent\'s replica, by resource.',
    labelNames: ['resource'],
    registers,
    collect() {
      this.reset();
      for (const [resource, n] of Object.entries(s.storeObjects())) this.set({ resource }, n);
    },
  });
  new Gauge({
    name: 'mesh_store_resource_version',
    help: 'The newest resourceVersion this agent has applied.',
    registers,
    collect() {
      const rv = Number(s.resourceVersion());
      this.set(Number.isFinite(rv) ? rv : 0);
    },
  });
  new Gauge({
    name: 'mesh_replication_changes',
    help: 'Store changes this agent knows (equal on converged agents).',
    registers,
    collect() {
      this.set(s.replication().changes);
    },
  });
  new Gauge({
    name: 'mesh_replication_incarnations',
    help: 'Object incarnations, live and tombstoned, this agent knows.',
    registers,
    collect() {
      this.set(s.replication().incarnations);
    },
  });
  new Gauge({
    name: 'mesh_scheduler_pending_pods',
    help: 'Pods waiting to be bound to a node.',
    registers,
    collect() {
      this.set(s.pendingPods());
    },
  });
  new Gauge({
    name: 'kubelet_running_pods',
    help: 'Pods on this node whose phase is Running.',
    registers,
    collect() {
      this.set(s.runningPods());
    },
  });
  new Gauge({
    name: 'mesh_metrics_nodes',
    help: 'Nodes with a fresh usage sample (kubectl top) in this agent\'s cache.',
    registers,
    collect() {
      this.set(s.metricsNodes());
    },
  });

  const raft = s.raft;
  if (raft) {
    const gauge = (name: string, help: string, read: (r: RaftReading) => number) =>
      new Gauge({ name, help, registers, collect() { this.set(read(raft())); } });
    gauge('mesh_raft_term', 'The Raft term this agent is in.', (r) => r.term);
    gauge('mesh_raft_commit_index', 'The highest Raft log index this agent knows is committed.', (r) => r.commit);
    gauge('mesh_raft_applied_index', 'The highest Raft log index this agent applied.', (r) => r.applied);
    gauge('mesh_raft_leader', '1 while this agent leads the Raft group with a valid lease, else 0.', (r) => (r.leading ? 1 : 0));
  }
  const proxySync = s.proxySync;
  if (proxySync) {
    new Gauge({
      name: 'mesh_proxy_sync_duration_seconds',
      help: 'Duration of the last service rule sync on this node (model, render, iptables-restore).',
      registers,
      collect() {
        const v = proxySync().seconds;
        if (v !== undefined) this.set(v);
      },
    });
    new Gauge({
      name: 'mesh_proxy_syncs',
      help: 'Service rule syncs on this node since the agent started, by outcome.',
      labelNames: ['outcome'],
      registers,
      collect() {
        const v = proxySync();
        this.set({ outcome: 'ok' }, v.syncs);
        this.set({ outcome: 'failed' }, v.failures);
      },
    });
  }

  return {
    registry,
    observeRequest(r) {
      const labels = { verb: r.verb, resource: r.resource, code: String(r.code) };
      // A watch lasts as long as the client wants; its duration says nothing about latency.
      if (r.verb !== 'WATCH') latency.observe(labels, r.seconds);
      requests.inc(labels);
    },
    async render() {
      return { contentType: registry.contentType, text: await registry.metrics() };
    },
  };
}
