// Node-pressure eviction (memory), as the kubelet's eviction manager does it:
// each pass reads memory.available against the hard threshold, keeps the
// MemoryPressure state the node status reports, and while under pressure evicts
// one pod (ranked by eviction-ranking.ts) and leaves the next check to the next pass.
import type { ObjectClient } from '../api/object-client.ts';
import type { Pod } from '../api/object-types.ts';
import type { EventRecorder } from '../event-recorder.ts';
import type { Logger } from '../logger.ts';
import type { NodeMemory } from './meminfo.ts';
import { memoryEvictionMessage, rankForMemoryEviction, type EvictionCandidate } from './eviction-ranking.ts';
import { thresholdBytes, type EvictionHard } from './resource-flags.ts';

// Kubernetes never evicts system-critical pods (priority >= 2000000000).
const CRITICAL_PRIORITY = 2_000_000_000;

export interface EvictionManagerOptions {
  nodeName: string;
  client: ObjectClient;
  logger: Logger;
  evictionHard: EvictionHard;
  /** Node memory (MemAvailable); injectable for tests. */
  readMemory: () => Promise<NodeMemory>;
  /** Working-set bytes per container of a pod; undefined when unknown. */
  podMemory: (pod: Pod) => Promise<Map<string, number> | undefined>;
  /** Kills the pod and marks it Failed/Evicted with this message. */
  evict: (pod: Pod, message: string) => Promise<void>;
  events?: EventRecorder;
  /** Time between passes (Kubernetes: 10 s housekeeping). */
  intervalMs?: number;
  /** MemoryPressure stays True this long after the last observation (--eviction-pressure-transition-period, 5 min). */
  pressureTransitionMs?: number;
  /** Called when MemoryPressure flips, so the node status can be written at once. */
  onPressureChange?: (underPressure: boolean) => void;
  now?: () => number;
}

export interface EvictionManager {
  start(): void;
  stop(): Promise<void>;
  /** The MemoryPressure condition (node-status.ts reads it). */
  underMemoryPressure(): boolean;
  /** One pass; resolves with the pod it evicted, if any. */
  synchronize(): Promise<Pod | undefined>;
}

export function createEvictionManager(opts: EvictionManagerOptions): EvictionManager {
  const log = opts.logger.child({ component: 'eviction-manager', node: opts.nodeName });
  const now = opts.now ?? Date.now;
  const intervalMs = opts.intervalMs ?? 10_000;
  const transitionMs = opts.pressureTransitionMs ?? 300_000;
  const threshold = opts.evictionHard.memoryAvailable;
  let lastObserved: number | undefined;
  let pressure = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = true;

  function activePods(): Pod[] {
    return opts.client
      .list<Pod>('pods', { fieldSelector: `spec.nodeName=${opts.nodeName}` })
      .items.filter(
        (p) =>
          !p.metadata.deletionTimestamp &&
          p.status?.phase !== 'Succeeded' &&
          p.status?.phase !== 'Failed' &&
          (p.spec.priority ?? 0) < CRITICAL_PRIORITY,
      );
  }

  async function synchronize(): Promise<Pod | undefined> {
    if (!threshold) return undefined;
    const mem = await opts.readMemory();
    const limit = thresholdBytes(threshold, mem.totalBytes);
    const observed = mem.availableBytes < limit;
    const t = now();
    if (observed) lastObserved = t;
    const next = lastObserved !== undefined && t - lastObserved < transitionMs ? true : observed;
    if (next !== pressure) {
      pressure = next;
      log.info({ availableBytes: mem.availableBytes, thresholdBytes: limit }, pressure ? 'node under memory pressure' : 'memory pressure over');
      opts.onPressureChange?.(pressure);
    }
    if (!observed) return undefined;
    const candidates: EvictionCandidate[] = await Promise.all(
      activePods().map(async (pod) => ({ pod, usage: await opts.podMemory(pod).catch(() => undefined) })),
    );
    const victim = rankForMemoryEviction(candidates)[0];
    if (!victim) {
      log.warn({ availableBytes: mem.availableBytes }, 'memory pressure but no pod to evict');
      return undefined;
    }
    const message = memoryEvictionMessage(victim, threshold.text, mem.availableBytes);
    const key = `${victim.pod.metadata.namespace ?? 'default'}/${victim.pod.metadata.name ?? ''}`;
    log.warn({ pod: key, availableBytes: mem.availableBytes }, 'evicting pod under memory pressure');
    await opts.evict(victim.pod, message);
    await opts.events?.warning(victim.pod, 'Evicted', message);
    return victim.pod;
  }

  function tick(): void {
    if (stopped || running) return;
    running = synchronize()
      .catch((err) => log.warn({ err }, 'eviction pass failed'))
      .finally(() => {
        running = undefined;
      });
  }

  return {
    start() {
      if (!threshold) {
        log.info('no hard eviction threshold; eviction is off');
        return;
      }
      stopped = false;
      tick();
      timer = setInterval(tick, intervalMs);
      timer.unref?.();
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
    underMemoryPressure: () => pressure,
    synchronize,
  };
}
