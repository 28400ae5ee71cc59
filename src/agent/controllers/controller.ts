// The controller framework. A controller is a name, the resources it watches
// (each with a function from a change to the keys it affects), and reconcile(key).
// The manager runs every controller only while this agent leads: start() when
// leadership is gained (watches, then a full resync), stop() when it is lost
// (watches and queues cancelled, in-flight reconciles awaited). Event handlers
// only produce keys; reconcile reads current state, so it is level-triggered,
// and a failing key is retried with back-off by the work queue.
import type { ObjectClient } from '../api/object-client.ts';
import type { Logger } from '../logger.ts';
import type { StoreEvent, Unsubscribe } from '../store/object-store.ts';
import { createWorkQueue, type WorkQueue } from './work-queue.ts';

/** How soon a key is tried again when the lease lapsed for a moment. */
const INACTIVE_RETRY_MS = 250;

/** A change as a controller sees it; `resync` marks the replays of a full resync. */
export interface ControllerEvent extends StoreEvent {
  resync?: boolean;
}

export interface ControllerWatch {
  /** Resource key, e.g. `pods`, `replicasets.apps`. */
  resource: string;
  /**
   * The keys a change affects. Called synchronously in the store's change order;
   * it must be cheap, and may note observations (expectations) but not write.
   */
  toKeys(event: ControllerEvent): Iterable<string>;
}

export interface ReconcileResult {
  /** Look at this key again after this long (e.g. when a grace period ends). */
  requeueAfterMs?: number;
}

export interface Controller {
  readonly name: string;
  readonly watches: readonly ControllerWatch[];
  /** Makes the world match the desired state for key; throws to be retried with back-off. */
  reconcile(key: string): Promise<ReconcileResult | void>;
  /** A full resync this often while running (none when absent). */
  readonly resyncMs?: number;
  /** Called on every start, before the first resync: state of an earlier term goes. */
  onStart?(): void;
}

/** Checks a controller definition and returns it. */
export function defineController(def: Controller): Controller {
  if (!def.name) throw new Error('controller name is required');
  if (typeof def.reconcile !== 'function') throw new Error(`controller ${def.name}: reconcile is required`);
  for (const w of def.watches) {
    if (!w.resource) throw new Error(`controller ${def.name}: every watch needs a resource`);
  }
  if (def.resyncMs !== undefined && !(def.resyncMs > 0)) throw new Error(`controller ${def.name}: resyncMs must be positive`);
  return def;
}

export interface ControllerManagerOptions {
  client: ObjectClient;
  logger: Logger;
  controllers: readonly Controller[];
  /**
   * Checked before every reconcile. A deposed leader must stop acting at once,
   * even before its stop() arrives; a key skipped here is picked up by the
   * resync of the next start().
   */
  isActive?: () => boolean;
  /** Retry back-off of failing keys (work queue defaults: 100 ms doubling to 30 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export interface ControllerManager {
  /** Starts every controller with a full resync; no-op while running. */
  start(): Promise<void>;
  /** Cancels watches, queues and timers, and waits for reconciles in flight. */
  stop(): Promise<void>;
  running(): boolean;
  /** Queues every watched object of every controller again. */
  resync(): void;
  /** Resolves once no controller has work queued or running: for tests. */
  idle(): Promise<void>;
}

interface Running {
  controller: Controller;
  queue: WorkQueue;
  unsubscribes: Unsubscribe[];
  timer?: NodeJS.Timeout;
}

export function createControllerManager(opts: ControllerManagerOptions): ControllerManager {
  const log = opts.logger.child({ component: 'controller-manager' });
  const names = new Set<string>();
  for (const c of opts.controllers) {
    if (names.has(c.name)) throw new Error(`two controllers are named ${c.name}`);
    names.add(c.name);
  }
  let current: Running[] | undefined;
  // start() and stop() run one at a time, in call order: leadership can flap.
  let transition: Promise<void> = Promise.resolve();
  let reconcileStarts = 0;

  function enqueue(r: Running, w: ControllerWatch, event: ControllerEvent): void {
    try {
      for (const k of w.toKeys(event)) r.queue.add(k);
    } catch (err) {
      // A faulty handler must not break the store's delivery to other watchers.
      log.warn({ err, controller: r.controller.name, resource: event.resource }, 'could not map a change to keys');
    }
  }

  function resyncOne(r: Running): void {
    for (const w of r.controller.watches) {
      let items;
      try {
        items = opts.client.list(w.resource).items;
      } catch (err) {
        log.warn({ err, controller: r.controller.name, resource: w.resource }, 'resync list failed');
        continue;
      }
      for (const object of items) enqueue(r, w, { type: 'ADDED', resource: w.resource, object, resync: true });
    }
  }

  function startOne(c: Controller): Running {
    const clog = opts.logger.child({ component: c.name });
    const r: Running = {
      controller: c,
      unsubscribes: [],
      queue: createWorkQueue({
        name: `${c.name}-queue`,
        logger: opts.logger,
        baseDelayMs: opts.baseDelayMs,
        maxDelayMs: opts.maxDelayMs,
        reconcile: async (key) => {
          reconcileStarts++;
          // The manager runs only while leading; a lapse this short (a late tick) raised no
          // leadership change, so try the key again shortly instead of dropping it.
          if (opts.isActive && !opts.isActive()) return r.queue.addAfter(key, INACTIVE_RETRY_MS);
          const result = await c.reconcile(key);
          if (result?.requeueAfterMs !== undefined) r.queue.addAfter(key, Math.max(0, result.requeueAfterMs));
        },
      }),
    };
    c.onStart?.();
    // Watch first, then list: a change between the two is seen at least once.
    try {
      for (const w of c.watches) {
        r.unsubscribes.push(opts.client.watch(w.resource, {}, (event) => enqueue(r, w, event)));
      }
    } catch (err) {
      for (const u of r.unsubscribes.splice(0)) u();
      throw err;
    }
    resyncOne(r);
    r.queue.start();
    if (c.resyncMs) {
      r.timer = setInterval(() => resyncOne(r), c.resyncMs);
      r.timer.unref();
    }
    clog.info('controller started');
    return r;
  }

  async function stopOne(r: Running): Promise<void> {
    if (r.timer) clearInterval(r.timer);
    for (const u of r.unsubscribes.splice(0)) u();
    await r.queue.stop();
  }

  function serial(step: () => Promise<void>): Promise<void> {
    const run = transition.then(step);
    transition = run.catch(() => undefined);
    return run;
  }

  return {
    start() {
      return serial(async () => {
        if (current) return;
        const started: Running[] = [];
        try {
          for (const c of opts.controllers) started.push(startOne(c));
        } catch (err) {
          // Half-started is not a state: undo what did start.
          await Promise.all(started.map(stopOne));
          throw err;
        }
        current = started;
        log.info({ controllers: started.map((r) => r.controller.name) }, 'controllers started');
      });
    },
    stop() {
      return serial(async () => {
        if (!current) return;
        const stopping = current;
        current = undefined;
        await Promise.all(stopping.map(stopOne));
        log.info('controllers stopped');
      });
    },
    running: () => current !== undefined,
    resync() {
      for (const r of current ?? []) resyncOne(r);
    },
    async idle() {
      // A reconcile may enqueue keys of another controller through the watches;
      // idle means a whole round in which no reconcile started.
      for (;;) {
        const before = reconcileStarts;
        await Promise.all((current ?? []).map((r) => r.queue.idle()));
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (reconcileStarts === before) return;
      }
    },
  };
}
