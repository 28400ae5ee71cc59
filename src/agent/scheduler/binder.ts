// Binds pending pods to nodes. The choice is the pure scheduleOne() over a
// cluster snapshot that this shell keeps up to date from the pod and node
// watches (never re-listing pods per pod); a chosen node is assumed into the
// snapshot at once and the binding is written in the background (a few at a
// time), so the next pod is scheduled without waiting for the write, as
// kube-scheduler's binding cycle does. Pods that fit nowhere get
// PodScheduled=False and a FailedScheduling event and are retried when a node
// changes in a way the scheduler reads, a claim or volume changes, or a bound
// pod goes away. Before a binding is written, the pod's unbound claims are
// bound or provisioned for the chosen node (volume-provisioner.ts).
// It runs only on the Raft leader (agent.ts makes one per leadership term).
import type { ObjectClient } from '../api/object-client.ts';
import type { KubeObject, Pod, PodCondition } from '../api/object-types.ts';
import type { PersistentVolume, PersistentVolumeClaim } from '../api/persistent-volume-types.ts';
import { createWorkQueue } from '../controllers/work-queue.ts';
import type { EventRecorder } from '../event-recorder.ts';
import type { Logger } from '../logger.ts';
import type { Unsubscribe } from '../store/object-store.ts';
import { createClusterSnapshot } from './cluster-snapshot.ts';
import { createDefaultPlugins } from './default-plugins.ts';
import type { SchedulerPlugin } from './framework.ts';
import { scheduleOne } from './scheduling-cycle.ts';
import type { SchedNode } from './scheduling-shapes.ts';
import { podClaimNames } from './volume-matching.ts';
import { createVolumeProvisioner, PV_RESOURCE, PVC_RESOURCE, type VolumeProvisioner } from './volume-provisioner.ts';

export interface PodBinding {
  bind(namespace: string, name: string, nodeName: string): Promise<unknown>;
}

export interface Binder {
  start(): void;
  stop(): Promise<void>;
  idle(): Promise<void>;
  /** Looks at every pending pod again (e.g. after this agent became the one that binds). */
  resync(): void;
}

const INACTIVE_RETRY_MS = 250;
const SCHEDULER_NAME = 'default-scheduler';
const DEFAULT_CONCURRENT_BINDS = 16;
const BIND_RETRY_BASE_MS = 100;
const BIND_RETRY_MAX_MS = 30_000;

function needsBinding(pod: Pod): boolean {
  return (
    !pod.spec.nodeName &&
    !pod.metadata.deletionTimestamp &&
    (pod.spec.schedulerName ?? SCHEDULER_NAME) === SCHEDULER_NAME
  );
}

export function createBinder(opts: {
  client: ObjectClient;
  binding: PodBinding;
  events: EventRecorder;
  logger: Logger;
  clock?: () => Date;
  /**
   * Whether this agent binds now. One agent must (two would bind the same pod
   * to different nodes): the Raft leader, while its lease holds.
   */
  isActive?: () => boolean;
  /** Scheduler plugins; kube's default profile when absent. */
  plugins?: readonly SchedulerPlugin[];
  /** Bindings written at once (default 16). */
  maxConcurrentBinds?: number;
  /** Binds and provisions claims before a pod's binding; the local-path provisioner when absent. */
  volumes?: VolumeProvisioner;
}): Binder {
  const { client } = opts;
  const clock = opts.clock ?? (() => new Date());
  const log = opts.logger.child({ component: 'binder' });
  const maxBinds = Math.max(1, opts.maxConcurrentBinds ?? DEFAULT_CONCURRENT_BINDS);
  const unsubscribes: Unsubscribe[] = [];
  const plugins = opts.plugins ?? createDefaultPlugins();
  const snapshot = createClusterSnapshot();
  const volumes = opts.volumes ?? createVolumeProvisioner({ client, logger: opts.logger, events: opts.events });
  /** Keys of pods that need a node, as the watch last showed them. */
  const pending = new Set<string>();
  /** The pending pods with persistentVolumeClaim volumes: the only ones a claim or volume change can help. */
  const pendingWithClaims = new Set<string>();
  const inFlight = new Set<Promise<void>>();
  const bindFailures = new Map<string, number>();
  let startIndex = 0;

  const keyOf = (o: KubeObject) => `${o.metadata.namespace}/${o.metadata.name}`;

  function observePod(type: string, pod: Pod): void {
    const key = keyOf(pod);
    const namespace = pod.metadata.namespace ?? 'default';
    const name = pod.metadata.name ?? '';
    if (type === 'DELETED') {
      pending.delete(key);
      pendingWithClaims.delete(key);
      if (snapshot.removePod(namespace, name)) enqueuePending();
      return;
    }
    const wasCounted = snapshot.pod(namespace, name) !== undefined;
    snapshot.setPod(pod);
    const isCounted = snapshot.pod(namespace, name) !== undefined;
    if (needsBinding(pod)) {
      pending.add(key);
      if (podClaimNames(pod.spec.volumes).length > 0) pendingWithClaims.add(key);
      queue.add(key);
    } else {
      pending.delete(key);
      pendingWithClaims.delete(key);
    }
    // A pod that finished or left frees what it held: waiting pods may fit now.
    if (wasCounted && !isCounted) enqueuePending();
  }

  function observeNode(type: string, node: SchedNode): void {
    const changed = type === 'DELETED' ? snapshot.removeNode(node.metadata.name ?? '') : snapshot.setNode(node);
    // Heartbeats change nothing the scheduler reads; only real changes retry waiting pods.
    if (changed) enqueuePending();
  }

  function observeClaim(type: string, pvc: PersistentVolumeClaim): void {
    const changed = type === 'DELETED' ? snapshot.removeClaim(pvc.metadata.namespace ?? 'default', pvc.metadata.name ?? '') : snapshot.setClaim(pvc);
    if (changed) for (const key of pendingWithClaims) queue.add(key);
  }

  function observeVolume(type: string, pv: PersistentVolume): void {
    const changed = type === 'DELETED' ? snapshot.removeVolume(pv.metadata.name ?? '') : snapshot.setVolume(pv);
    if (changed) for (const key of pendingWithClaims) queue.add(key);
  }

  function retryLater(key: string): number {
    const n = (bindFailures.get(key) ?? 0) + 1;
    bindFailures.set(key, n);
    const delay = Math.min(BIND_RETRY_MAX_MS, BIND_RETRY_BASE_MS * 2 ** (n - 1));
    queue.addAfter(key, delay);
    return delay;
  }

  function enqueuePending(): void {
    for (const key of pending) queue.add(key);
  }

  async function reconcile(key: string): Promise<void> {
    const [namespace, name] = key.split('/') as [string, string];
    // The lease can lapse for a moment (a late tick) without a leadership change:
    // try again shortly rather than drop the pod.
    if (opts.isActive && !opts.isActive()) return queue.addAfter(key, INACTIVE_RETRY_MS);
    const pod = client.get<Pod>('pods', namespace, name);
    if (!pod || !needsBinding(pod)) return;
    // Something assumed but not yet written is on its way already.
    if (snapshot.pod(namespace, name)) return;
    const outcome = scheduleOne(pod, snapshot, { plugins, startIndex });
    startIndex = outcome.nextStartIndex;
    const result = outcome.result;
    if ('nodeName' in result) {
      snapshot.assume(outcome.podInfo, result.nodeName);
      while (inFlight.size >= maxBinds) await Promise.race(inFlight);
      const task = bindInBackground(pod, key, result.nodeName).finally(() => inFlight.delete(task));
      inFlight.add(task);
      return;
    }
    await markUnschedulable(pod, result.unschedulable);
  }

  async function bindInBackground(pod: Pod, key: string, nodeName: string): Promise<void> {
    const namespace = pod.metadata.namespace ?? 'default';
    const name = pod.metadata.name ?? '';
    try {
      const blocked = await volumes.prepare(pod, nodeName);
      if (blocked) {
        snapshot.forget(namespace, name);
        const delay = retryLater(key);
        log.info({ pod: key, node: nodeName, retryInMs: delay, reason: blocked.unschedulable }, 'volumes not ready on the chosen node');
        const current = client.get<Pod>('pods', namespace, name);
        if (current && needsBinding(current)) {
          await markUnschedulable(current, blocked.unschedulable).catch((err) => log.warn({ err, pod: key }, 'marking the pod unschedulable failed'));
        }
        return;
      }
      await opts.binding.bind(namespace, name, nodeName);
    } catch (err) {
      snapshot.forget(namespace, name);
      const delay = retryLater(key);
      log.warn({ err, pod: key, node: nodeName, attempt: bindFailures.get(key), retryInMs: delay }, 'bind failed');
      return;
    }
    bindFailures.delete(key);
    log.info({ pod: key, node: nodeName }, 'bound');
    try {
      await opts.events.normal(pod, 'Scheduled', `Successfully assigned ${key} to ${nodeName}`);
    } catch (err) {
      log.warn({ err, pod: key }, 'recording the Scheduled event failed');
    }
  }

  async function markUnschedulable(pod: Pod, message: string): Promise<void> {
    const conditions = pod.status?.conditions ?? [];
    const current = conditions.find((c) => c.type === 'PodScheduled');
    if (current?.status === 'False' && current.message === message) return;
    const condition: PodCondition = {
      type: 'PodScheduled',
      status: 'False',
      reason: 'Unschedulable',
      message,
      lastProbeTime: null,
      lastTransitionTime: clock().toISOString().replace(/\.\d+Z$/, 'Z'),
    };
    await client.updateStatus('pods', {
      ...pod,
      status: { ...pod.status, phase: 'Pending', conditions: [...conditions.filter((c) => c !== current), condition] },
    });
    await opts.events.warning(pod, 'FailedScheduling', message);
    log.info({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, message }, 'unschedulable');
  }

  const queue = createWorkQueue({ name: 'binder-queue', reconcile, logger: opts.logger });

  function load(): void {
    for (const node of client.list<SchedNode>('nodes').items) snapshot.setNode(node);
    for (const ns of client.list('namespaces').items) snapshot.setNamespaceLabels(ns.metadata.name ?? '', ns.metadata.labels ?? {});
    for (const pvc of client.list<PersistentVolumeClaim>(PVC_RESOURCE).items) snapshot.setClaim(pvc);
    for (const pv of client.list<PersistentVolume>(PV_RESOURCE).items) snapshot.setVolume(pv);
    for (const pod of client.list<Pod>('pods').items) {
      snapshot.setPod(pod);
      if (needsBinding(pod)) {
        pending.add(keyOf(pod));
        if (podClaimNames(pod.spec.volumes).length > 0) pendingWithClaims.add(keyOf(pod));
      }
    }
  }

  return {
    start() {
      unsubscribes.push(
        client.watch('pods', {}, (e) => observePod(e.type, e.object as Pod)),
        // A node that appears or changes may make a waiting pod fit.
        client.watch('nodes', {}, (e) => observeNode(e.type, e.object as SchedNode)),
        client.watch('namespaces', {}, (e) =>
          snapshot.setNamespaceLabels(e.object.metadata.name ?? '', e.type === 'DELETED' ? undefined : (e.object.metadata.labels ?? {})),
        ),
        // A claim or volume that appears, binds or frees up may make a waiting pod fit.
        client.watch(PVC_RESOURCE, {}, (e) => observeClaim(e.type, e.object as PersistentVolumeClaim)),
        client.watch(PV_RESOURCE, {}, (e) => observeVolume(e.type, e.object as PersistentVolume)),
      );
      load();
      enqueuePending();
      queue.start();
    },
    async stop() {
      for (const u of unsubscribes.splice(0)) u();
      await queue.stop();
      await Promise.allSettled([...inFlight]);
    },
    async idle() {
      for (;;) {
        await queue.idle();
        if (inFlight.size === 0) return;
        await Promise.allSettled([...inFlight]);
      }
    },
    resync: enqueuePending,
  };
}
