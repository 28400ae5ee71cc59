// Hybrid logical clock (Kulkarni et al.): wall-clock milliseconds plus a logical
// counter. It never goes backwards, and a timestamp taken after observing
// another is greater than it, so "created after seeing X" implies "greater than
// X" even across agents with skewed clocks. Mesh records one in every
// incarnation's document at create time to pick a deterministic winner when two
// agents create the same name concurrently (docs/store.md).
//
// The functions are pure; createHlcClock is the thin stateful shell.

export interface HlcTimestamp {
  /** Milliseconds since the epoch (the largest physical time seen). */
  wall: number;
  /** Orders events within one wall millisecond. */
  logical: number;
}

export const HLC_ZERO: HlcTimestamp = { wall: 0, logical: 0 };

/** The timestamp of a local event (or a send) at physical time `physicalMs`. */
export function hlcTick(last: HlcTimestamp, physicalMs: number): HlcTimestamp {
  if (physicalMs > last.wall) return { wall: physicalMs, logical: 0 };
  return { wall: last.wall, logical: last.logical + 1 };
}

/** The clock after receiving `remote` at physical time `physicalMs`. */
export function hlcReceive(last: HlcTimestamp, remote: HlcTimestamp, physicalMs: number): HlcTimestamp {
  const wall = Math.max(last.wall, remote.wall, physicalMs);
  if (wall === last.wall && wall === remote.wall) return { wall, logical: Math.max(last.logical, remote.logical) + 1 };
  if (wall === last.wall) return { wall, logical: last.logical + 1 };
  if (wall === remote.wall) return { wall, logical: remote.logical + 1 };
  return { wall, logical: 0 };
}

export function compareHlc(a: HlcTimestamp, b: HlcTimestamp): number {
  return a.wall !== b.wall ? (a.wall < b.wall ? -1 : 1) : a.logical === b.logical ? 0 : a.logical < b.logical ? -1 : 1;
}

/** Fixed-width text, so encoded timestamps also sort correctly as strings. */
export function encodeHlc(t: HlcTimestamp): string {
  return `${String(t.wall).padStart(15, '0')}.${String(t.logical).padStart(10, '0')}`;
}

/** undefined for anything that is not an encoded timestamp. */
export function decodeHlc(s: unknown): HlcTimestamp | undefined {
  if (typeof s !== 'string') return undefined;
  const m = /^(\d{15})\.(\d{10})$/.exec(s);
  if (!m) return undefined;
  return { wall: Number(m[1]), logical: Number(m[2]) };
}

export interface HlcClock {
  /** A new timestamp, greater than every one issued or observed before. */
  now(): HlcTimestamp;
  /** Moves the clock past a timestamp seen elsewhere. */
  observe(remote: HlcTimestamp): void;
  /** The last issued or observed value, without ticking. */
  peek(): HlcTimestamp;
}

export function createHlcClock(physicalNow: () => number = Date.now): HlcClock {
  let last = HLC_ZERO;
  return {
    now() {
      last = hlcTick(last, physicalNow());
      return last;
    },
    observe(remote) {
      if (compareHlc(remote, last) > 0) last = hlcReceive(last, remote, physicalNow());
    },
    peek() {
      return last;
    },
  };
}
