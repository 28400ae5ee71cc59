// Wires one agent together and runs its components through one lifecycle:
// started in dependency order, stopped in reverse. Nothing here is global, so a
// test can run several agents in one process.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dataPaths, MANAGED_POD_NETWORK, type AgentConfig } from './config.ts';
import { createLogger, type Logger } from './logger.ts';
import { ensurePki } from './api/pki.ts';
import { renderKubeconfig } from './api/kubeconfig.ts';
import { createRegistry } from './api/registry.ts';
import { createApiServer } from './api/server.ts';
import { API_ENDPOINT_ANNOTATION, createRoutedLogSource } from './api/routed-log-source.ts';
import { createAutomergeStore } from './store/automerge-store.ts';
import { createReplicator } from './store/replicator.ts';
import { singleWriterRule } from './store/single-writer-rule.ts';
import { createDockerRuntime } from './kubelet/docker-runtime.ts';
import { createPodNetwork, MESH_POD_NETWORK } from './kubelet/pod-network.ts';
import { createDockerNetworks } from './kubelet/docker-networks.ts';
import { createDnsServer, type DnsServer } from './dns/dns-server.ts';
import { createLbAnnouncer } from './proxy/lb-announcer.ts';
import { createServiceProxy } from './proxy/service-proxy.ts';
import { createIptablesApplier } from './proxy/iptables-applier.ts';
import { createLbAnnouncerController } from './controllers/lb-announcer-controller.ts';
import { createKubelet } from './kubelet/kubelet.ts';
import { nodeVolumeAnnotations } from './kubelet/pod-volumes.ts';
import { createNodeStatus } from './kubelet/node-status.ts';
import { countNvidiaGpus } from './kubelet/gpu-detect.ts';
import { createEvictionManager } from './kubelet/eviction-manager.ts';
import { readNodeMemory } from './kubelet/meminfo.ts';
import { createPodMemoryReader } from './kubelet/pod-memory.ts';
import { parseEvictionHard } from './kubelet/resource-flags.ts';
import { createBinder, type Binder } from './scheduler/binder.ts';
import { createEventRecorder } from './event-recorder.ts';
import { createNodeLifecycle } from './controllers/node-lifecycle.ts';
import { createEventExpiry } from './controllers/event-expiry.ts';
import { createControllerManager } from './controllers/controller.ts';
import { createGarbageCollector } from './controllers/garbage-collector.ts';
import { createReplicaSetController } from './controllers/replicaset-controller.ts';
import { createDeploymentController } from './controllers/deployment-controller.ts';
import { createDaemonSetController } from './controllers/daemonset-controller.ts';
import { createStatefulSetController } from './controllers/statefulset-controller.ts';
import { createJobController } from './controllers/job-controller.ts';
import { createHpaController } from './controllers/hpa-controller.ts';
import { createCronJobController } from './controllers/cronjob-controller.ts';
import { createPersistentVolumeController } from './controllers/persistent-volume-controller.ts';
import { createServiceAllocationController } from './controllers/service-allocation-controller.ts';
import { createNodeCidrController } from './controllers/node-cidr-controller.ts';
import { createEndpointSliceController } from './controllers/endpointslice-controller.ts';
import { createLeaderFence } from './leader-fence.ts';
import { createSecretBackend } from './api/secret-backend.ts';
import { createSqliteRaftStorage } from '../consensus/raft-storage.ts';
import { createLibp2pRaftTransport } from '../consensus/libp2p-raft-transport.ts';
import { createRaftNode } from '../consensus/raft-driver.ts';
import { createClusterFsm } from '../consensus/cluster-fsm.ts';
import { createClusterAllocator } from '../consensus/cluster-allocator.ts';
import { createSecretSealer } from '../consensus/secret-crypto.ts';
import { createPodSecretFetcher, createSecretReader } from '../consensus/secret-reader.ts';
import { createSecretRequestHandler } from '../consensus/secret-requests.ts';
import { createVoterManager } from '../consensus/voter-manager.ts';
import { outsideViewFrom } from '../consensus/outside-view.ts';
import type { RaftHint } from '../net/membership.ts';
import { trafficTapFromEnv } from '../net/traffic-tap.ts';
import { startAgentMetrics } from './metrics/agent-metrics.ts';
import { enterCluster, markLeft } from './cluster-entry.ts';
import { createLeave } from './leave.ts';
import type { MeshStatus } from './mesh-status.ts';
import type { Pod } from './api/object-types.ts';
import { createMeshHost } from '../net/mesh-host.ts';
import { createMembership } from '../net/membership.ts';
import { createGossipReplicationTransport } from '../net/gossip-replication-transport.ts';
import { serveJoin } from '../net/join.ts';
import { clusterConfigPath, pskFromConfig, rememberPeers } from '../net/cluster-config.ts';

export interface RunningAgent {
  config: AgentConfig;
  /** The API's URL, e.g. https://127.0.0.1:6443 (with the real port when 0 was asked). */
  url: string;
  kubeconfigPath: string;
  /** `host:port` other machines give to `mesh join`. */
  joinAddress: string;
  joinToken: string;
  /** Resolves when the agent has left its cluster (`mesh leave`); the caller then stops it. */
  left: Promise<void>;
  stop(): Promise<void>;
}

interface Component {
  name: string;
  stop(): Promise<void> | void;
}

const STOP_TIMEOUT_MS = 10_000;
const isLoopback = (ip: string) => ip.startsWith('127.') || ip === '::1' || ip === 'localhost';

export async function startAgent(config: AgentConfig, logger?: Logger): Promise<RunningAgent> {
  const log = logger ?? createLogger({ level: config.logLevel, destination: config.logFile });
  const paths = dataPaths(config.dataDir);
  const started: Component[] = [];
  let signalLeft!: () => void;
  const left = new Promise<void>((resolve) => (signalLeft = resolve));

  async function stopAll(): Promise<void> {
    for (const c of started.splice(0).reverse()) {
      const t0 = Date.now();
      // A component that cannot stop must not keep the others (and the process) up.
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS)));
      try {
        const outcome = await Promise.race([Promise.resolve(c.stop()).then(() => 'stopped' as const), timeout]);
        if (outcome === 'timeout') log.error({ component: c.name, ms: STOP_TIMEOUT_MS }, 'component did not stop in time; going on');
        else log.debug({ component: c.name, ms: Date.now() - t0 }, 'stopped');
      } catch (err) {
        log.warn({ err, component: c.name }, 'stop failed');
      } finally {
        clearTimeout(timer);
      }
    }
  }

  try {
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
    const entry = await enterCluster(config, log);
    const pki = await ensurePki(paths.pki, { extraNames: [config.apiHost, config.listenAddress, config.nodeName] });

    const store = createAutomergeStore({ dataDir: paths.store, agentId: config.nodeName, logger: log });
    await store.start();
    started.push({ name: 'store', stop: () => store.stop() });

    // The mesh: libp2p host, replication of the store, membership and joins.
    const host = await createMeshHost({
      dataDir: config.dataDir,
      listenAddress: config.listenAddress,
      port: config.p2pPort,
      psk: pskFromConfig(entry.cluster),
      logger: log,
      tap: trafficTapFromEnv(config.nodeName),
    });
    started.push({ name: 'mesh-host', stop: () => host.stop() });
    const transport = await createGossipReplicationTransport(host);
    const replicator = createReplicator({
      store,
      transport,
      logger: log,
      // The store's agentId is the node name, so a change's author is its node.
      authorize: singleWriterRule((author) => author),
      antiEntropyIntervalMs: 1000,
    });
    replicator.start();
    started.push({ name: 'replicator', stop: () => replicator.stop() });
    // Group members put their Raft view into heartbeats, so agents outside the group know the leader.
    let raftHint: () => RaftHint | undefined = () => undefined;
    const membership = createMembership({
      host,
      nodeName: config.nodeName,
      logger: log,
      stateDigest: () => ({ changes: replicator.stateDigest().changes }),
      raftHint: () => raftHint(),
      seeds: entry.cluster.knownPeers,
      onKnownAddrs: (addrs) => void rememberPeers(config.dataDir, addrs).catch((err) => log.warn({ err }, 'could not save peers')),
    });
    await membership.start();
    started.push({ name: 'membership', stop: () => membership.stop() });
    await serveJoin({
      host,
      dataDir: config.dataDir,
      members: () => membership.members().map((m) => ({ nodeName: m.nodeName, peerId: m.peerId, addrs: m.addrs })),
      logger: log,
    });

    // The Raft subgroup: every agent runs a member; the founder starts the group
    // alone and the leader's voter manager adds the others (learner, then voter).
    const raftTransport = await createLibp2pRaftTransport({
      host,
      peerIdOf: (node) => membership.peerIdOf(node),
      nodeNameOf: (peer) => membership.nodeNameOf(peer),
      nodeName: config.nodeName,
      logger: log,
    });
    started.push({ name: 'raft-transport', stop: () => raftTransport.stop() });
    const raftStorage = createSqliteRaftStorage({ path: join(config.dataDir, 'raft', 'raft.db') });
    started.push({ name: 'raft-storage', stop: () => raftStorage.close() });
    const fsm = createClusterFsm({ lbPool: entry.cluster.lbPool });
    const founder = entry.cluster.founder === config.nodeName;
    const raft = createRaftNode({
      id: config.nodeName,
      storage: raftStorage,
      transport: raftTransport,
      stateMachine: fsm,
      initialConf: { voters: founder ? [config.nodeName] : [], learners: [] },
      logger: log,
      outsideView: () => outsideViewFrom(membership.members().filter((m) => !m.self)),
    });
    raftHint = () => {
      const st = raft.status();
      if (!st.inGroup) return undefined;
      return { term: st.term, ...(st.leader ? { leader: st.leader } : {}), voters: st.conf.voters, learners: st.conf.learners };
    };
    await raft.start();
    started.push({ name: 'raft', stop: () => raft.stop() });

    // Secret values live only in the FSM, sealed with a key from the cluster key.
    const sealer = createSecretSealer(pskFromConfig(entry.cluster));
    const secretReader = createSecretReader({ raftNode: raft, fsm, transport: raftTransport, sealer });
    const registry = createRegistry({
      store,
      logger: log,
      secrets: createSecretBackend({ raftNode: raft, sealer, reader: secretReader, logger: log }),
    });
    await registry.ensureDefaultNamespaces();
    const secretRequests = createSecretRequestHandler({ raftNode: raft, fsm, pods: () => registry.list<Pod>('pods').items, logger: log });
    const offSecretRequests = raftTransport.onRequest(secretRequests);
    started.push({ name: 'secret-requests', stop: offSecretRequests });

    const runtime = createDockerRuntime({ socketPath: config.dockerSocket, logger: log });
    const runtimeInfo = await runtime.info();

    // Other agents forward log requests here. The API listens on a fixed port
    // unless 0 was asked, which only tests do (they use loopback and fixed ports too).
    const apiHostForPeers = config.apiHost === '0.0.0.0' ? config.listenAddress : config.apiHost;
    const apiEndpoint = `https://${apiHostForPeers.includes(':') ? `[${apiHostForPeers}]` : apiHostForPeers}:${config.apiPort}`;
    // Node resources: GPUs the kubelet hands out, reserved amounts, memory-pressure eviction.
    const gpus = countNvidiaGpus();
    const evictionHard = config.evictionHard ?? parseEvictionHard(undefined);
    const eviction = createEvictionManager({
      nodeName: config.nodeName,
      client: registry,
      logger: log,
      evictionHard,
      readMemory: () => readNodeMemory(),
      podMemory: createPodMemoryReader(runtime, config.nodeName),
      evict: (pod, message) => kubelet.evict(pod, message),
      events: createEventRecorder({ client: registry, source: { component: 'kubelet', host: config.nodeName }, logger: log }),
      onPressureChange: () => void nodeStatus.heartbeat().catch((err) => log.warn({ err }, 'node status update failed')),
    });
    const nodeStatus = createNodeStatus({
      nodeName: config.nodeName,
      client: registry,
      runtimeInfo,
      gpus,
      reserved: { systemReserved: config.systemReserved, kubeReserved: config.kubeReserved, evictionHard },
      memoryPressure: () => eviction.underMemoryPressure(),
      labels: config.nodeLabels,
      taints: config.registerTaints,
      annotations: { [API_ENDPOINT_ANNOTATION]: apiEndpoint, ...nodeVolumeAnnotations(config.dataDir) },
      logger: log,
      ...(isLoopback(config.listenAddress) ? {} : { nodeAddress: config.listenAddress }),
    });
    await nodeStatus.start();
    started.push({ name: 'node-status', stop: () => nodeStatus.stop() });

    // The pod network (a bridge on this node's pod CIDR, routed to the other
    // nodes') and the cluster DNS on its gateway. Both wait for the leader to give
    // this Node its pod CIDR; pods wait for both.
    const podNet =
      config.podNetwork === MANAGED_POD_NETWORK
        ? createPodNetwork({ nodeName: config.nodeName, client: registry, docker: createDockerNetworks({ socketPath: config.dockerSocket }), logger: log })
        : undefined;
    let dnsAddress: string | undefined;
    let dns: DnsServer | undefined;
    let podNetworkReady: Promise<string> | undefined;
    if (podNet) {
      podNet.start();
      started.push({ name: 'pod-network', stop: () => podNet.stop() });
      podNetworkReady = podNet.ready().then(async ({ network, gateway }) => {
        if (config.clusterDns === 'on') {
          const server = createDnsServer({ client: registry, logger: log, listen: { host: gateway, port: 53 } });
          try {
            await server.start();
            dns = server;
            dnsAddress = gateway;
          } catch (err) {
            // Pods then use the node's resolver: worse, but they run.
            log.error({ err, gateway }, 'cluster DNS could not start');
          }
        }
        return network;
      });
      started.push({ name: 'cluster-dns', stop: () => dns?.stop() });
    }

    const kubelet = createKubelet({
      nodeName: config.nodeName,
      client: registry,
      runtime,
      logger: log,
      podNetwork: podNet ? MESH_POD_NETWORK : config.podNetwork,
      ...(podNetworkReady ? { podNetworkReady } : {}),
      clusterDns: () => dnsAddress,
      gpus,
      secrets: createPodSecretFetcher({ nodeName: config.nodeName, raftNode: raft, transport: raftTransport, sealer, localHandler: secretRequests }),
      dataDir: config.dataDir,
    });
    await kubelet.start();
    started.push({ name: 'kubelet', stop: () => kubelet.stop() });

    // Service routing: this node's iptables rules from the local replica's Services and EndpointSlices.
    // The service range is routed locally and whatever no rule translated is refused:
    // a blackhole route would also stop the host's own connections to ClusterIPs,
    // which are routed before nat OUTPUT translates them.
    const rules = config.proxyMode === 'iptables' ? createIptablesApplier({ logger: log, serviceCidrRoute: 'local' }) : undefined;
    const proxy = rules
      ? createServiceProxy({
          client: registry,
          nodeName: config.nodeName,
          nodeIPs: isLoopback(config.listenAddress) ? [] : [config.listenAddress],
          applier: rules,
          logger: log,
        })
      : undefined;
    if (proxy) {
      await proxy.start();
      started.push({ name: 'service-proxy', stop: () => proxy.stop() });
    }

    // This node answers for the LoadBalancer IPs the leader gave it (L2 announcement).
    const lbAnnouncer =
      config.proxyMode === 'iptables' && !isLoopback(config.listenAddress)
        ? createLbAnnouncer({ nodeName: config.nodeName, client: registry, announcerOf: (uid) => fsm.lbAnnouncerOf(uid), logger: log, nodeAddress: config.listenAddress })
        : undefined;
    if (lbAnnouncer) {
      lbAnnouncer.start();
      started.push({ name: 'lb-announcer', stop: () => lbAnnouncer.stop() });
    }
    eviction.start();
    started.push({ name: 'eviction-manager', stop: () => eviction.stop() });

    // Leader-only work (DESIGN.md §3): scheduling, controllers, allocation, node
    // eviction, event expiry and the voter set run only while this agent leads
    // with a valid lease, and write through the fence of the term they began in.
    const fence = createLeaderFence(registry, raft);
    const allocator = createClusterAllocator({ raftNode: raft, logger: log });
    const schedulerEvents = createEventRecorder({
      client: registry,
      source: { component: 'default-scheduler', host: config.nodeName },
      logger: log,
    });
    const controllerEvents = createEventRecorder({ client: registry, source: { component: 'controller-manager', host: config.nodeName }, logger: log });
    // A binder per leadership term: it loads its cluster snapshot when the term begins.
    let binder: Binder | undefined;
    const startBinder = () => {
      binder = createBinder({
        client: fence.client,
        binding: { bind: fence.guarded((ns: string, name: string, node: string) => registry.bind(ns, name, node)) },
        events: schedulerEvents,
        logger: log,
        isActive: fence.holds,
      });
      binder.start();
    };
    const stopBinder = async () => {
      const b = binder;
      binder = undefined;
      await b?.stop();
    };
    started.push({ name: 'binder', stop: stopBinder });

    // Usage sampling, its gossip, metrics.k8s.io and /metrics (the HPA reads its cache).
    const metrics = startAgentMetrics({
      nodeName: config.nodeName,
      runtime,
      host,
      members: () => membership.members(),
      nodeNameOf: (peerId) => membership.nodeNameOf(peerId),
      client: registry,
      resourceVersion: () => registry.currentResourceVersion(),
      replication: () => replicator.stateDigest(),
      logger: log,
      intervalMs: config.metricsIntervalMs,
      raft: () => {
        const r = raft.status();
        return { term: r.term, commit: r.commit, applied: r.applied, leading: raft.isLeading() };
      },
      ...(proxy
        ? {
            proxySync: () => {
              const p = proxy.status();
              return { seconds: p.lastSyncDurationMs === undefined ? undefined : p.lastSyncDurationMs / 1000, syncs: p.syncs, failures: p.failures };
            },
          }
        : {}),
    });
    started.push({ name: 'metrics', stop: () => metrics.stop() });

    const controllers = createControllerManager({
      client: fence.client,
      logger: log,
      isActive: fence.holds,
      controllers: [
        createGarbageCollector({ client: fence.client, logger: log }),
        createReplicaSetController({ client: fence.client, logger: log, events: controllerEvents }),
        createDeploymentController({ client: fence.client, logger: log, events: controllerEvents }),
        createDaemonSetController({ client: fence.client, logger: log, events: controllerEvents }),
        createStatefulSetController({ client: fence.client, logger: log, events: controllerEvents }),
        createJobController({ client: fence.client, logger: log, events: controllerEvents }),
        createCronJobController({ client: fence.client, logger: log, events: controllerEvents }),
        createHpaController({ client: fence.client, metrics: metrics.cache, logger: log, events: controllerEvents }),
        createPersistentVolumeController({ client: fence.client, logger: log, events: controllerEvents }),
        createServiceAllocationController({ client: fence.client, allocator, fsm, logger: log, events: controllerEvents }),
        createNodeCidrController({ client: fence.client, allocator, fsm, logger: log, events: controllerEvents }),
        createEndpointSliceController({ client: fence.client, logger: log }),
        createLbAnnouncerController({ client: fence.client, allocator, fsm, logger: log, events: controllerEvents }),
      ],
    });
    started.push({ name: 'controllers', stop: () => controllers.stop() });
    const eventExpiry = createEventExpiry({ client: fence.client, logger: log, isActive: fence.holds });
    eventExpiry.start();
    started.push({ name: 'event-expiry', stop: () => eventExpiry.stop() });
    const members = () =>
      membership
        .members()
        .filter((m) => !m.self)
        .map((m) => ({ nodeName: m.nodeName, status: m.status, lastSeen: m.lastSeen }));
    const lifecycle = createNodeLifecycle({
      selfName: config.nodeName,
      client: fence.client,
      members,
      logger: log,
      isActive: fence.holds,
      ...(config.podEvictionGraceMs !== undefined ? { podEvictionGraceMs: config.podEvictionGraceMs } : {}),
    });
    const voters = createVoterManager({
      raft,
      membership,
      logger: log,
      desiredVoters: entry.cluster.voters,
      ...(config.voterDownTimeoutMs !== undefined ? { voterDownTimeoutMs: config.voterDownTimeoutMs } : {}),
    });
    voters.start();
    started.push({ name: 'voter-manager', stop: () => voters.stop() });
    const onLeadership = (leading: boolean, term: number) => {
      if (leading) {
        fence.begin(term);
        log.info({ term }, 'leading the Raft group: leader-only work starts');
        // The FSM records the leader's term, so commands of an older leader are refused.
        void allocator.recordLeadership(config.nodeName).catch((err) => log.warn({ err }, 'could not record the leadership'));
        void controllers.start().catch((err) => log.warn({ err }, 'controllers did not start'));
        if (!binder) startBinder();
        void lifecycle.reconcile();
      } else {
        fence.end();
        log.info({ term }, 'no longer leading the Raft group: leader-only work stops');
        void controllers.stop().catch((err) => log.warn({ err }, 'controllers did not stop'));
        void stopBinder().catch((err) => log.warn({ err }, 'binder did not stop'));
      }
    };
    const offLeadership = raft.onLeadershipChange(onLeadership);
    if (raft.isLeading()) onLeadership(true, raft.term());
    const offMembership = membership.onChange(() => {
      void lifecycle.reconcile();
      binder?.resync();
    });
    const lifecycleTimer = setInterval(() => void lifecycle.reconcile(), 1000);
    started.push({
      name: 'node-lifecycle',
      stop: () => {
        offLeadership();
        offMembership();
        clearInterval(lifecycleTimer);
      },
    });

    const leave = createLeave({
      nodeName: config.nodeName,
      client: registry,
      beforeNodeDelete: () => nodeStatus.stop(),
      announce: () => membership.announceLeave(),
      flush: async () => {
        await Promise.allSettled(host.connectedPeers().map((p) => replicator.syncWith(p)));
      },
      forget: async () => {
        // Nothing of this node's networking stays behind: routes, rules, addresses, the bridge.
        await Promise.allSettled([proxy?.stop(), lbAnnouncer?.stop()]);
        await Promise.allSettled([podNet?.cleanup(), lbAnnouncer?.cleanup(), rules?.cleanup()]);
        await markLeft(config.dataDir);
        await rm(clusterConfigPath(config.dataDir), { force: true });
      },
      logger: log,
    });

    const meshStatus = (): MeshStatus => {
      const known = replicator.stateDigest().changes;
      const r = raft.status();
      return {
        raft: {
          role: r.role,
          membership: r.conf.voters.includes(config.nodeName) ? 'voter' : r.conf.learners.includes(config.nodeName) ? 'learner' : 'member',
          term: r.term,
          ...(r.leader ? { leader: r.leader } : {}),
          commit: r.commit,
          applied: r.applied,
          voters: r.conf.voters,
          learners: r.conf.learners,
          quorum: r.quorum,
        },
        clusterName: entry.cluster.clusterName,
        nodeName: config.nodeName,
        peerId: host.peerId,
        knownChanges: known,
        members: membership.members().map((m) => ({
          nodeName: m.nodeName,
          peerId: m.peerId,
          addresses: m.addrs,
          status: m.status,
          lastContact: m.self ? undefined : new Date(m.lastSeen).toISOString(),
          behind: m.self ? 0 : Math.max(0, known - m.stateDigest.changes),
          self: m.self,
        })),
      };
    };

    const server = createApiServer({
      registry,
      tls: { caCertPem: pki.caCertPem, serverCertPem: pki.serverCertPem, serverKeyPem: pki.serverKeyPem },
      adminToken: pki.adminToken,
      host: config.apiHost,
      port: config.apiPort,
      logger: log,
      logSource: createRoutedLogSource({
        nodeName: config.nodeName,
        local: kubelet,
        client: registry,
        caPem: pki.caCertPem,
        token: pki.adminToken,
      }),
      prefixRoutes: metrics.routes,
      onRequestDone: metrics.onRequestDone,
      meshRoutes: {
        '/mesh/v1/status': { method: 'GET', handle: async () => meshStatus() },
        // One no-op through Raft from this agent (forwarded when it does not lead): the commit latency.
        '/mesh/v1/raft/commit-probe': {
          method: 'POST',
          handle: async () => {
            const t0 = performance.now();
            await raft.propose(JSON.stringify({ type: 'noop' }));
            return { ms: performance.now() - t0, leader: raft.leader() ?? null, term: raft.term() };
          },
        },
        '/mesh/v1/leave': {
          method: 'POST',
          handle: async () => {
            const result = await leave.run();
            // Answer first; the caller stops the agent once it sees `left`.
            setTimeout(signalLeft, 200).unref();
            return result;
          },
        },
      },
    });
    await server.start();
    started.push({ name: 'api', stop: () => server.stop() });

    const url = server.url();
    await writeFile(
      paths.adminKubeconfig,
      renderKubeconfig({
        server: url,
        caPem: pki.caCertPem,
        clientCertPem: pki.adminCertPem,
        clientKeyPem: pki.adminKeyPem,
        clusterName: entry.cluster.clusterName,
        userName: 'mesh-admin',
      }),
      { mode: 0o600 },
    );
    const p2pPort = Number(/\/tcp\/(\d+)/.exec(host.multiaddrs()[0] ?? '')?.[1] ?? config.p2pPort);
    const joinAddress = `${config.listenAddress.includes(':') ? `[${config.listenAddress}]` : config.listenAddress}:${p2pPort}`;
    await writeFile(paths.joinToken, `${entry.token}\n`, { mode: 0o600 });
    log.info({ url, node: config.nodeName, peerId: host.peerId, joinAddress, dataDir: config.dataDir }, 'agent started');
    return {
      config,
      url,
      kubeconfigPath: paths.adminKubeconfig,
      joinAddress,
      joinToken: entry.token,
      left,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
