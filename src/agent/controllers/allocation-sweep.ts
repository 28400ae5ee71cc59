// The release side of the allocation controllers. An FSM allocation is released
// once its owner (a Service uid, a Node name) has been missing from the store
// for a grace period: the store is eventually consistent, so a leader that has
// not heard of a new object yet must not take its addresses away.
//
// The sweep runs as one self-requeueing key of a controller; SweepSchedule
// keeps that to one chain even when extra triggers (resyncs) queue the key again.
import type { ObjectClient } from '../api/object-client.ts';
import type { ClusterAllocator } from '../../consensus/cluster-allocator.ts';
import type { Logger } from '../logger.ts';
import type { EventRecorder } from '../event-recorder.ts';

export const SWEEP_KEY = '~sweep';
export const DEFAULT_RELEASE_AFTER_MS = 10_000;
export const DEFAULT_SWEEP_EVERY_MS = 5_000;

export interface OrphanTracker {
  /** The owners allocated but not alive for longer than the grace period, as of `now`. */
  due(allocated: Iterable<string>, alive: (owner: string) => boolean, now: number): string[];
  /** Forgets what it saw (a new term starts counting afresh). */
  reset(): void;
}

export function createOrphanTracker(releaseAfterMs = DEFAULT_RELEASE_AFTER_MS): OrphanTracker {
  const missingSince = new Map<string, number>();
  return {
    due(allocated, alive, now) {
      const seen = new Set<string>();
      const out: string[] = [];
      for (const owner of allocated) {
        if (seen.has(owner)) continue;
        seen.add(owner);
        if (alive(owner)) {
          missingSince.delete(owner);
          continue;
        }
        const since = missingSince.get(owner);
        if (since === undefined) missingSince.set(owner, now);
        else if (now - since > releaseAfterMs) out.push(owner);
      }
      for (const owner of [...missingSince.keys()]) if (!seen.has(owner)) missingSince.delete(owner);
      return out.sort();
    },
    reset() {
      missingSince.clear();
    },
  };
}

export interface SweepSchedule {
  /** Whether a sweep should run now (false for an extra trigger between scheduled runs). */
  due(): boolean;
  /** A sweep ran: the next is due one interval from now. */
  ran(): void;
  reset(): void;
  readonly everyMs: number;
}

export function createSweepSchedule(everyMs: number, now: () => number): SweepSchedule {
  let next: number | undefined;
  return {
    everyMs,
    // Timers fire late, never early; half an interval of slack absorbs clock differences.
    due: () => next === undefined || now() >= next - everyMs / 2,
    ran() {
      next = now() + everyMs;
    },
    reset() {
      next = undefined;
    },
  };
}

/** What both allocation controllers (services, node CIDRs) take besides their FSM reads. */
export interface AllocationControllerOptions {
  /** The leader's (fenced) client. */
  client: ObjectClient;
  allocator: ClusterAllocator;
  logger: Logger;
  events?: EventRecorder;
  now?: () => number;
  /** How long an owner (Service, Node) must be missing before its allocation goes (default 10 s). */
  releaseAfterMs?: number;
  sweepEveryMs?: number;
  /** When a refused allocation is tried again (default 30 s). */
  retryRefusedMs?: number;
}

