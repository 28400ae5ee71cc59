// A manual clock for timer-driven code: advance() fires due timers in order and
// lets the promises they start settle between them.
export interface FakeClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Moves time forward by ms, firing every timer that falls due on the way. */
  advance(ms: number): Promise<void>;
  pending(): number;
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

export function createFakeClock(start = 1_000_000): FakeClock {
  let now = start;
  let seq = 0;
  const timers = new Map<number, { due: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = ++seq;
      timers.set(id, { due: now + Math.max(0, ms), fn });
      return id;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    async advance(ms) {
      const target = now + ms;
      for (;;) {
        await settle();
        let next: [number, { due: number; fn: () => void }] | undefined;
        for (const e of timers) if (e[1].due <= target && (!next || e[1].due < next[1].due || (e[1].due === next[1].due && e[0] < next[0]))) next = e;
        if (!next) break;
        timers.delete(next[0]);
        now = next[1].due;
        next[1].fn();
        await settle();
        await settle();
      }
      now = target;
    },
    pending: () => timers.size,
  };
}
