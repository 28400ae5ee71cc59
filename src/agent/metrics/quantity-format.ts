// Usage figures as Kubernetes quantities and durations, in the forms
// metrics-server answers with: CPU in nanocores ("123456n"), memory in
// kibibytes ("1234Ki"), windows as Go durations ("10.5s").

export function cpuQuantity(nanoCores: number): string {
  const n = Math.max(0, Math.round(nanoCores));
  return n === 0 ? '0' : `${n}n`;
}

export function memoryQuantity(bytes: number): string {
  const ki = Math.max(0, Math.floor(bytes / 1024));
  return ki === 0 ? '0' : `${ki}Ki`;
}

/** Go's time.Duration String() for a non-negative number of seconds (millisecond precision). */
export function goDuration(seconds: number): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  const sText = `${s.toFixed(3).replace(/0+$/, '').replace(/\.$/, '')}s`;
  if (h > 0) return `${h}h${m}m${sText}`;
  if (m > 0) return `${m}m${sText}`;
  return sText;
}
