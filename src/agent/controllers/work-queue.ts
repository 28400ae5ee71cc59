// A keyed work queue: a key queued many times is processed once; a failing key
// is retried with exponential back-off. Event handlers only add keys; the
// reconcile function reads current state, so it is level-triggered.
import type { Logger } from '../logger.ts';

export interface WorkQueue {
  add(key: string): void;
  /** Re-queues after a delay (for "try again later" without an error). */
  addAfter(key: string, delayMs: number): void;
  start(): void;
  stop(): Promise<void>;
  /** Resolves when nothing is queued or running: for tests. */
  idle(): Promise<void>;
}

export function createWorkQueue(opts: {
  name: string;
  reconcile: (key: string) => Promise<void>;
  logger: Logger;
  baseDelayMs?: number;
  maxDelayMs?: number;
}): WorkQueue {
  const base = opts.baseDelayMs ?? 100;
  const max = opts.maxDelayMs ?? 30_000;
  const log = opts.logger.child({ component: opts.name });
  const queued = new Set<string>();
  const order: string[] = [];
  const failures = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  let running: Promise<void> | undefined;
  let started = false;
  let stopped = false;
  let idleWaiters: (() => void)[] = [];

  function add(key: string): void {
    if (stopped || queued.has(key)) return;
    queued.add(key);
    order.push(key);
    pump();
  }

  function addAfter(key: string, delayMs: number): void {
    if (stopped) return;
    const t = setTimeout(() => {
      timers.delete(t);
      add(key);
    }, delayMs);
    t.unref();
    timers.add(t);
  }

  function pump(): void {
    if (!started || running || stopped) return;
    const key = order.shift();
    if (key === undefined) {
      for (const w of idleWaiters) w();
      idleWaiters = [];
      return;
    }
    queued.delete(key);
    // Started a microtask later, so `running` is set before it runs: a reconcile whose
    // first write synchronously queues its own key must not start a second one beside it.
    running = Promise.resolve()
      .then(() => opts.reconcile(key))
      .then(
        () => {
          failures.delete(key);
        },
        (err: unknown) => {
          const n = (failures.get(key) ?? 0) + 1;
          failures.set(key, n);
          const delay = Math.min(max, base * 2 ** (n - 1));
          log.warn({ err, key, attempt: n, retryInMs: delay }, 'reconcile failed');
          addAfter(key, delay);
        },
      )
      .finally(() => {
        running = undefined;
        pump();
      });
  }

  return {
    add,
    addAfter,
    start() {
      started = true;
      pump();
    },
    async stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await running;
    },
    idle() {
      if (!running && order.length === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
  };
}
