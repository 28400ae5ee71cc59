// Per-key exponential restart back-off, as the kubelet's: the first restart is
// immediate, later ones wait initial, 2x, 4x... up to max since the previous one.

export interface BackoffConfig {
  initialMs: number;
  maxMs: number;
}

export interface Backoff {
  /** Milliseconds still to wait before the key may restart; 0 when it may now. */
  remaining(key: string, now: number): number;
  /** The delay currently in force for the key (for the CrashLoopBackOff message). */
  delay(key: string): number;
  /** Records a restart now and grows the delay for the next one. */
  next(key: string, now: number): void;
  reset(key: string): void;
  /** Drops every key with this prefix. */
  resetPrefix(prefix: string): void;
}

export function createBackoff(cfg: BackoffConfig): Backoff {
  const entries = new Map<string, { delayMs: number; lastMs: number }>();
  return {
    remaining(key, now) {
      const e = entries.get(key);
      return e ? Math.max(0, e.lastMs + e.delayMs - now) : 0;
    },
    delay(key) {
      return entries.get(key)?.delayMs ?? cfg.initialMs;
    },
    next(key, now) {
      const e = entries.get(key);
      entries.set(key, { delayMs: e ? Math.min(e.delayMs * 2, cfg.maxMs) : cfg.initialMs, lastMs: now });
    },
    reset(key) {
      entries.delete(key);
    },
    resetPrefix(prefix) {
      for (const k of entries.keys()) if (k.startsWith(prefix)) entries.delete(k);
    },
  };
}

/** Go's time.Duration formatting, which Kubernetes messages use: 10s, 1m20s, 5m0s, 250ms. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const totalSeconds = ms / 1000;
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = Number((totalSeconds % 60).toFixed(3));
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}
