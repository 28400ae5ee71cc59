// Shares each node's newest metrics sample on the gossip topic mesh/metrics/1
// and files the others' samples in the cache. Gossip is signed, so a sample is
// believed only when it names the node of the peer that signed it.
import type { Logger } from '../logger.ts';
import type { MeshHost } from '../../net/mesh-host.ts';
import type { MetricsCache } from './metrics-cache.ts';
import { decodeSample, encodeSample, type NodeMetricsSample } from './metrics-sample.ts';

export const METRICS_TOPIC = 'mesh/metrics/1';

export interface MetricsGossipOptions {
  host: Pick<MeshHost, 'publish' | 'subscribe'>;
  cache: MetricsCache;
  /** The node name a peer announced in its heartbeats (membership.nodeNameOf). */
  nodeNameOf: (peerId: string) => string | undefined;
  logger: Logger;
}

export interface MetricsGossip {
  start(): void;
  stop(): void;
  /** Files this node's sample locally and sends it to the others. */
  publish(sample: NodeMetricsSample): Promise<void>;
}

export function createMetricsGossip(opts: MetricsGossipOptions): MetricsGossip {
  const log = opts.logger.child({ component: 'metrics-gossip' });
  let unsubscribe: (() => void) | undefined;

  function onMessage(from: string, bytes: Uint8Array): void {
    const sample = decodeSample(bytes);
    if (!sample) {
      log.debug({ from }, 'dropped malformed metrics sample');
      return;
    }
    const node = opts.nodeNameOf(from);
    if (node !== sample.nodeName) {
      log.debug({ from, node, claimed: sample.nodeName }, 'dropped metrics sample for another node');
      return;
    }
    opts.cache.put(sample);
  }

  return {
    start() {
      unsubscribe ??= opts.host.subscribe(METRICS_TOPIC, onMessage);
    },
    stop() {
      unsubscribe?.();
      unsubscribe = undefined;
    },
    async publish(sample) {
      opts.cache.put(sample);
      try {
        await opts.host.publish(METRICS_TOPIC, encodeSample(sample));
      } catch (err) {
        log.debug({ err }, 'could not publish metrics sample');
      }
    },
  };
}
