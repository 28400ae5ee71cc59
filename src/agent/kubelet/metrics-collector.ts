// Samples this node and every running pod container on it at a fixed interval.
// CPU rates come from two consecutive readings, so a container shows up from
// its second round on; a pod is reported only once all its running containers
// have a rate (as metrics-server does), so its sum is never partial.
import type { Logger } from '../logger.ts';
import type { ContainerInfo, ContainerRuntime, ContainerStats } from './container-runtime.ts';
import { cpuNanoCores, type CpuReading } from './cpu-rate.ts';
import type { NodeUsageReader, NodeUsageReading } from './node-usage.ts';
import { LABEL_CONTAINER_KIND, LABEL_CONTAINER_NAME, LABEL_NODE, LABEL_POD_NAME, LABEL_POD_NAMESPACE, LABEL_POD_UID } from './labels.ts';
import type { NodeMetricsSample, PodMetricsSample } from '../metrics/metrics-sample.ts';

export const DEFAULT_METRICS_INTERVAL_MS = 10_000;

export interface MetricsCollectorOptions {
  nodeName: string;
  runtime: Pick<ContainerRuntime, 'listContainers' | 'stats'>;
  nodeUsage: NodeUsageReader;
  logger: Logger;
  /** Time between rounds; default 10 s. */
  intervalMs?: number;
  /** Called with every complete sample (from the second round on). */
  onSample?: (sample: NodeMetricsSample) => void;
}

export interface MetricsCollector {
  start(): void;
  stop(): Promise<void>;
  /** One round now; the sample, or undefined while there is no previous reading. */
  collect(): Promise<NodeMetricsSample | undefined>;
  latest(): NodeMetricsSample | undefined;
}

export function createMetricsCollector(opts: MetricsCollectorOptions): MetricsCollector {
  const log = opts.logger.child({ component: 'metrics-collector' });
  const intervalMs = opts.intervalMs ?? DEFAULT_METRICS_INTERVAL_MS;
  let prevNode: NodeUsageReading | undefined;
  let prevContainers = new Map<string, CpuReading>();
  let latest: NodeMetricsSample | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;

  async function readContainers(): Promise<{ info: ContainerInfo; stats: ContainerStats }[]> {
    const infos = (await opts.runtime.listContainers({ [LABEL_NODE]: opts.nodeName })).filter(
      (c) => c.state === 'running' && c.labels[LABEL_CONTAINER_KIND] !== 'sandbox' && c.labels[LABEL_POD_UID],
    );
    const read = await Promise.all(
      infos.map(async (info) => {
        try {
          const stats = await opts.runtime.stats(info.id);
          return stats ? { info, stats } : undefined;
        } catch (err) {
          log.debug({ err, container: info.id }, 'no stats for container');
          return undefined;
        }
      }),
    );
    return read.filter((r) => r !== undefined);
  }

  async function collect(): Promise<NodeMetricsSample | undefined> {
    const [node, containers] = await Promise.all([opts.nodeUsage.read(), readContainers()]);
    const pods = new Map<string, PodMetricsSample & { incomplete: boolean }>();
    const seen = new Map<string, CpuReading>();
    for (const { info, stats } of containers) {
      seen.set(info.id, stats);
      const uid = info.labels[LABEL_POD_UID]!;
      let pod = pods.get(uid);
      if (!pod) {
        pod = {
          namespace: info.labels[LABEL_POD_NAMESPACE] ?? '',
          name: info.labels[LABEL_POD_NAME] ?? '',
          uid,
          containers: [],
          incomplete: false,
        };
        pods.set(uid, pod);
      }
      const prev = prevContainers.get(info.id);
      const cpu = prev ? cpuNanoCores(prev, stats) : undefined;
      if (cpu === undefined) pod.incomplete = true;
      else pod.containers.push({ name: info.labels[LABEL_CONTAINER_NAME] ?? info.name, usage: { cpuNanoCores: cpu, memoryWorkingSetBytes: stats.memoryWorkingSetBytes } });
    }
    // Forget containers that are gone, so the map does not grow without bound.
    prevContainers = seen;
    const prev = prevNode;
    prevNode = node;
    const nodeCpu = prev ? cpuNanoCores(prev, node) : undefined;
    if (!prev || nodeCpu === undefined) return undefined;
    const sample: NodeMetricsSample = {
      nodeName: opts.nodeName,
      timestamp: new Date(node.timestampMs).toISOString(),
      windowSeconds: (node.timestampMs - prev.timestampMs) / 1000,
      usage: { cpuNanoCores: nodeCpu, memoryWorkingSetBytes: node.memoryWorkingSetBytes },
      pods: [...pods.values()]
        .filter((p) => !p.incomplete && p.containers.length > 0)
        .map(({ incomplete: _, ...p }) => ({ ...p, containers: p.containers.sort((a, b) => a.name.localeCompare(b.name)) })),
    };
    latest = sample;
    return sample;
  }

  async function round(): Promise<void> {
    try {
      const sample = await collect();
      if (sample && !stopped) opts.onSample?.(sample);
    } catch (err) {
      log.warn({ err }, 'metrics collection failed');
    }
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = round().finally(schedule);
    }, intervalMs);
  }

  return {
    start() {
      stopped = false;
      // The first round is the baseline the second one's rates need.
      running = round().finally(schedule);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running.catch(() => undefined);
    },
    collect,
    latest: () => latest,
  };
}
