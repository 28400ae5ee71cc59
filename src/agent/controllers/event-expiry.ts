// Deletes Events older than their TTL (Kubernetes: --event-ttl, 1 h), judged by
// the last time each was seen. Runs on the Raft leader only, so one agent does
// the deletes for the cluster.
import type { ObjectClient } from '../api/object-client.ts';
import type { KubeObject } from '../api/object-types.ts';
import { ApiError } from '../api/errors.ts';
import type { Logger } from '../logger.ts';

export interface EventExpiryOptions {
  client: ObjectClient;
  logger: Logger;
  /** Age after which an Event goes (default 1 h). */
  ttlMs?: number;
  /** How often to sweep (default 60 s). */
  intervalMs?: number;
  /** Only the active (coordinating) agent sweeps. */
  isActive?: () => boolean;
  clock?: () => number;
}

export interface EventExpiry {
  start(): void;
  stop(): void;
  /** One pass; resolves with the number of Events deleted. */
  sweep(): Promise<number>;
}

/** When the Event was last seen, in ms; undefined when it carries no time at all. */
export function lastSeen(ev: KubeObject): number | undefined {
  const e = ev as KubeObject & { lastTimestamp?: string | null; eventTime?: string | null; firstTimestamp?: string | null; series?: { lastObservedTime?: string } };
  for (const t of [e.series?.lastObservedTime, e.lastTimestamp, e.eventTime, e.firstTimestamp, e.metadata.creationTimestamp]) {
    if (!t) continue;
    const ms = Date.parse(t);
    if (Number.isFinite(ms)) return ms;
  }
  return undefined;
}

export function createEventExpiry(opts: EventExpiryOptions): EventExpiry {
  const ttlMs = opts.ttlMs ?? 3_600_000;
  const intervalMs = opts.intervalMs ?? 60_000;
  const clock = opts.clock ?? Date.now;
  const log = opts.logger.child({ component: 'event-expiry' });
  let timer: NodeJS.Timeout | undefined;
  let running = false;

  async function sweep(): Promise<number> {
    if (running || (opts.isActive && !opts.isActive())) return 0;
    running = true;
    try {
      const cutoff = clock() - ttlMs;
      let deleted = 0;
      for (const ev of opts.client.list('events').items) {
        const seen = lastSeen(ev);
        if (seen === undefined || seen >= cutoff) continue;
        try {
          await opts.client.delete('events', ev.metadata.namespace ?? 'default', ev.metadata.name ?? '', {
            preconditions: { uid: ev.metadata.uid, resourceVersion: ev.metadata.resourceVersion },
          });
          deleted++;
        } catch (err) {
          // Gone already, or renewed since we listed it.
          if (!(err instanceof ApiError) || (err.code !== 404 && err.code !== 409)) throw err;
        }
      }
      if (deleted) log.debug({ deleted }, 'expired events deleted');
      return deleted;
    } finally {
      running = false;
    }
  }

  return {
    start() {
      if (timer) return;
      timer = setInterval(() => void sweep().catch((err) => log.warn({ err }, 'event expiry failed')), intervalMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
    sweep,
  };
}
