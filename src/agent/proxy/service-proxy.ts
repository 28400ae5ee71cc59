// The per-node service proxy: keeps this node's iptables rules in line with
// the Services, EndpointSlices and this node's Node in the LOCAL store (no
// network hop). Watch events only mark services dirty; a sync rebuilds the
// model of the dirty services, renders (reusing the rules of unchanged service
// ports) and hands the result to the applier, which sends only the chains that
// changed. Bursts coalesce: a sync starts at once when the last one is at least
// minSyncIntervalMs old, else when it is; one sync runs at a time.
import { performance } from 'node:perf_hooks';
import type { ObjectClient } from '../api/object-client.ts';
import type { KubeObject } from '../api/object-types.ts';
import type { Logger } from '../logger.ts';
import type { StoreEvent, Unsubscribe } from '../store/object-store.ts';
import type { ApplyMode, IptablesApplier } from './iptables-applier.ts';
import { createRenderCache, renderRuleSet } from './render-rules.ts';
import {
  DEFAULT_CLUSTER_CIDR,
  DEFAULT_SERVICE_CIDR,
  buildServicePorts,
  compareServicePorts,
  localityOf,
  serviceKey,
  serviceKeyOfSlice,
  type EndpointSliceInput,
  type NodeContext,
  type ServiceInput,
  type ServicePortModel,
} from './service-model.ts';

export const ENDPOINT_SLICES = 'endpointslices.discovery.k8s.io';
const DEFAULT_MIN_SYNC_INTERVAL_MS = 50;
const DEFAULT_FULL_SYNC_INTERVAL_MS = 10 * 60_000;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;

export interface ServiceProxyOptions {
  /** The local store. */
  client: ObjectClient;
  nodeName: string;
  nodeIPs: string[];
  applier: IptablesApplier;
  logger: Logger;
  /** Minimum time between the starts of two syncs (default 50 ms). */
  minSyncIntervalMs?: number;
  /** How often everything is sent again, repairing rules someone else flushed (default 10 min). */
  fullSyncIntervalMs?: number;
  clusterCidr?: string;
  serviceCidr?: string;
  /** Resource key of EndpointSlices (default endpointslices.discovery.k8s.io). */
  endpointSliceResource?: string;
  now?: () => number;
}

export interface ServiceProxyStatus {
  syncs: number;
  failures: number;
  /** Wall time of the last successful sync: model, render and restore. */
  lastSyncDurationMs?: number;
  lastSyncMode?: ApplyMode;
  /** now() when it finished. */
  lastSyncAt?: number;
  lastError?: string;
  servicePorts: number;
}

export interface ServiceProxy {
  /** Subscribes, applies the jumps and the first full sync (failures are retried in the background). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Resolves once every change seen so far is applied, or a sync failed after it. */
  idle(): Promise<void>;
  status(): ServiceProxyStatus;
}

interface NodeObject extends KubeObject {
  spec?: { podCIDR?: string; podCIDRs?: string[] };
}

export function createServiceProxy(opts: ServiceProxyOptions): ServiceProxy {
  const log = opts.logger.child({ component: 'service-proxy' });
  const { client, applier } = opts;
  const now = opts.now ?? Date.now;
  const minInterval = opts.minSyncIntervalMs ?? DEFAULT_MIN_SYNC_INTERVAL_MS;
  const fullInterval = opts.fullSyncIntervalMs ?? DEFAULT_FULL_SYNC_INTERVAL_MS;
  const sliceResource = opts.endpointSliceResource ?? ENDPOINT_SLICES;
  const cache = createRenderCache();

  const services = new Map<string, ServiceInput>();
  /** service key -> slice `namespace/name` -> slice */
  const slices = new Map<string, Map<string, EndpointSliceInput>>();
  /** slice `namespace/name` -> the service key it was filed under */
  const sliceOwner = new Map<string, string>();
  const ports = new Map<string, ServicePortModel[]>();
  const dirty = new Set<string>();
  let podCidr: string | undefined;
  let allDirty = true;
  let sorted: ServicePortModel[] | undefined;

  let unsubscribes: Unsubscribe[] = [];
  let stopped = true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timerDue = Infinity;
  let running: Promise<void> | undefined;
  let lastStart = -Infinity;
  let lastFull = -Infinity;
  let retryDelay = 0;
  let retryAt = -Infinity;
  const waiters: (() => void)[] = [];
  const stats: ServiceProxyStatus = { syncs: 0, failures: 0, servicePorts: 0 };

  const hasWork = () => dirty.size > 0 || allDirty;

  const markDirty = (key: string) => {
    dirty.add(key);
    schedule();
  };

  function onService(e: StoreEvent): void {
    const svc = e.object as ServiceInput;
    const key = serviceKey(svc);
    if (e.type === 'DELETED') services.delete(key);
    else services.set(key, svc);
    markDirty(key);
  }

  function onSlice(e: StoreEvent): void {
    const slice = e.object as EndpointSliceInput;
    const id = `${slice.metadata.namespace ?? 'default'}/${slice.metadata.name ?? ''}`;
    const before = sliceOwner.get(id);
    const after = e.type === 'DELETED' ? undefined : serviceKeyOfSlice(slice);
    if (before !== undefined) {
      const m = slices.get(before);
      m?.delete(id);
      if (m?.size === 0) slices.delete(before);
      sliceOwner.delete(id);
      markDirty(before);
    }
    if (after !== undefined) {
      let m = slices.get(after);
      if (!m) slices.set(after, (m = new Map()));
      m.set(id, slice);
      sliceOwner.set(id, after);
      markDirty(after);
    }
  }

  function onNode(e: StoreEvent): void {
    if (e.object.metadata.name !== opts.nodeName) return;
    const spec = (e.object as NodeObject).spec;
    const cidr = e.type === 'DELETED' ? undefined : (spec?.podCIDR ?? spec?.podCIDRs?.[0]);
    if (cidr === podCidr) return;
    podCidr = cidr;
    // Which endpoints are local may change for every service.
    allDirty = true;
    schedule();
  }

  function nodeContext(): NodeContext {
    return {
      nodeName: opts.nodeName,
      nodeIPs: [...opts.nodeIPs],
      ...(podCidr ? { podCidr } : {}),
      clusterCidr: opts.clusterCidr ?? DEFAULT_CLUSTER_CIDR,
      serviceCidr: opts.serviceCidr ?? DEFAULT_SERVICE_CIDR,
    };
  }

  /** The model's service ports: rebuilt only for services that changed. */
  function refreshPorts(node: NodeContext): ServicePortModel[] {
    const keys = allDirty ? new Set([...ports.keys(), ...services.keys()]) : new Set(dirty);
    allDirty = false;
    dirty.clear();
    if (keys.size === 0 && sorted) return sorted;
    const isLocal = localityOf(node);
    for (const k of keys) {
      const svc = services.get(k);
      const built = svc ? buildServicePorts(svc, [...(slices.get(k)?.values() ?? [])], isLocal) : [];
      if (built.length > 0) ports.set(k, built);
      else ports.delete(k);
    }
    sorted = [...ports.values()].flat().sort(compareServicePorts);
    return sorted;
  }

  async function syncOnce(): Promise<void> {
    const started = performance.now();
    lastStart = now();
    const full = now() - lastFull >= fullInterval;
    const node = nodeContext();
    const servicePorts = refreshPorts(node);
    const rules = renderRuleSet({ node, servicePorts }, { cache });
    const result = await applier.apply(rules, { full });
    // Jumps after the rules, so traffic never meets half-filled chains at start.
    if (full) await applier.ensureJumps();
    if (result.mode === 'full') lastFull = now();
    stats.syncs++;
    stats.lastSyncDurationMs = performance.now() - started;
    stats.lastSyncMode = result.mode;
    stats.lastSyncAt = now();
    stats.servicePorts = servicePorts.length;
    delete stats.lastError;
    log.debug({ ms: stats.lastSyncDurationMs, mode: result.mode, chains: result.changedChains, removed: result.removedChains }, 'synced');
  }

  function arm(due: number): void {
    if (stopped || running) return;
    if (timer !== undefined) {
      if (timerDue <= due) return;
      clearTimeout(timer);
    }
    timerDue = due;
    timer = setTimeout(run, Math.max(0, due - now()));
  }

  /** Work soon (bounded by the minimum interval and any retry backoff); otherwise the next periodic full sync. */
  function schedule(): void {
    if (hasWork()) arm(Math.max(lastStart + minInterval, retryAt));
    else if (fullInterval > 0 && Number.isFinite(lastFull)) arm(lastFull + fullInterval);
  }

  function run(): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    timerDue = Infinity;
    if (stopped) return;
    let failed = false;
    running = syncOnce().then(
      () => {
        retryDelay = 0;
        retryAt = -Infinity;
      },
      (err: unknown) => {
        failed = true;
        stats.failures++;
        stats.lastError = err instanceof Error ? err.message : String(err);
        retryDelay = Math.min(RETRY_MAX_MS, retryDelay === 0 ? RETRY_MIN_MS : retryDelay * 2);
        retryAt = now() + retryDelay;
        // Everything again next time: the kernel may hold anything now.
        allDirty = true;
        lastFull = -Infinity;
        log.error({ err, retryMs: retryDelay }, 'service rules sync failed');
      },
    );
    void running.then(() => {
      running = undefined;
      if (!stopped) schedule();
      if (stopped || failed || !hasWork()) for (const w of waiters.splice(0)) w();
    });
  }

  return {
    async start() {
      if (!stopped) return;
      stopped = false;
      unsubscribes = [
        client.watch('services', {}, onService),
        client.watch(sliceResource, {}, onSlice),
        client.watch('nodes', { fieldSelector: `metadata.name=${opts.nodeName}` }, onNode),
      ];
      for (const svc of client.list<ServiceInput>('services').items) onService({ type: 'ADDED', resource: 'services', object: svc });
      for (const s of client.list<EndpointSliceInput>(sliceResource).items) onSlice({ type: 'ADDED', resource: sliceResource, object: s });
      const me = client.get<NodeObject>('nodes', '', opts.nodeName);
      if (me) onNode({ type: 'ADDED', resource: 'nodes', object: me });
      allDirty = true;
      run();
      await running;
    },
    async stop() {
      stopped = true;
      for (const u of unsubscribes.splice(0)) u();
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await running;
      for (const w of waiters.splice(0)) w();
    },
    idle() {
      if (stopped || (!hasWork() && !running)) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
    status: () => ({ ...stats }),
  };
}
