// Fans store events out to watchers and keeps a bounded history so a watch can
// resume from an older resourceVersion. Shared by every ObjectStore
// implementation so they agree on replay and Gone semantics.

import { BadRequest, Gone } from '../api/errors.ts';
import type { Logger } from '../logger.ts';
import type { StoreEvent, Unsubscribe, WatchOptions } from './object-store.ts';

export interface WatchHub {
  /** Records an event (its object carries the new resourceVersion) and delivers it. */
  publish(event: StoreEvent, resourceVersion: number): void;
  watch(opts: WatchOptions, handler: (event: StoreEvent) => void): Unsubscribe;
  /** Forgets all history: every event after `resourceVersion` is the first retained one. */
  reset(resourceVersion: number): void;
}

interface Watcher {
  resource?: string;
  namespace?: string;
  handler: (event: StoreEvent) => void;
}

interface Recorded {
  rv: number;
  event: StoreEvent;
}

export function createWatchHub(opts: { historyLimit: number; startResourceVersion: number; logger?: Logger }): WatchHub {
  const limit = Math.max(1, opts.historyLimit);
  // Ring buffer: `head` is the index of the oldest retained event.
  const ring: (Recorded | undefined)[] = new Array(limit);
  let head = 0;
  let size = 0;
  // Every event with rv > horizon is in the ring (or has not happened yet).
  let horizon = opts.startResourceVersion;
  const watchers = new Set<Watcher>();

  function matches(w: { resource?: string; namespace?: string }, e: StoreEvent): boolean {
    if (w.resource !== undefined && w.resource !== e.resource) return false;
    if (w.namespace !== undefined && (e.object.metadata.namespace ?? '') !== w.namespace) return false;
    return true;
  }

  function deliver(w: Watcher, e: StoreEvent): void {
    try {
      // Each watcher gets its own copy, so one mutating handler cannot corrupt history or the others.
      w.handler(structuredClone(e));
    } catch (err) {
      opts.logger?.error({ err, resource: e.resource }, 'watch handler threw');
    }
  }

  return {
    publish(event, rv) {
      if (size === limit) {
        horizon = ring[head]!.rv;
        head = (head + 1) % limit;
        size--;
      }
      ring[(head + size) % limit] = { rv, event };
      size++;
      for (const w of watchers) if (matches(w, event)) deliver(w, event);
    },

    watch(wopts, handler) {
      const w: Watcher = { resource: wopts.resource, namespace: wopts.namespace, handler };
      const since = wopts.sinceResourceVersion;
      if (since !== undefined && since !== '' && since !== '0') {
        if (!/^\d+$/.test(since)) throw new BadRequest(`invalid resourceVersion "${since}"`);
        const sinceRv = Number(since);
        if (sinceRv < horizon) {
          throw new Gone(`too old resource version: ${since} (${horizon})`);
        }
        // Replayed synchronously, before any later event can be published.
        for (let i = 0; i < size; i++) {
          const r = ring[(head + i) % limit]!;
          if (r.rv > sinceRv && matches(w, r.event)) deliver(w, r.event);
        }
      }
      watchers.add(w);
      return () => {
        watchers.delete(w);
      };
    },

    reset(rv) {
      ring.fill(undefined);
      head = 0;
      size = 0;
      horizon = rv;
    },
  };
}
