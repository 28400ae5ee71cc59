// Usage figures as Kubernetes quantities and durations, in the forms
// metrics-server answers with: CPU in nanocores ("123456n"), memory in
// kibibytes ("1234Ki"), windows as Go durations ("10.5s").

/** CPU as it is reported: whole nanocores. */
export function reportedNanoCores(nanoCores: number): number {
  return Math.max(0, Math.round(nanoCores));
}

/** Memory as it is reported: whole kibibytes, in bytes. */
export function reportedMemoryBytes(bytes: number): number {
  return Math.max(0, Math.floor(bytes / 1024)) * 1024;
}

export function cpuQuantity(nanoCores: number): string {
  const n = reportedNanoCores(nanoCores);
  return n === 0 ? '0' : `${n}n`;
}

export function memoryQuantity(bytes: number): string {
  const ki = reportedMemoryBytes(bytes) / 1024;
  return ki === 0 ? '0' : `${ki}Ki`;
}

const DECIMAL_SUFFIXES = ['', 'k', 'M', 'G', 'T', 'P', 'E'];

/**
 * A count of thousandths as Kubernetes prints resource.NewMilliQuantity(n,
 * DecimalSI): `250m`, `2`, `200M`, `104857600`.
 */
export function milliQuantity(milli: number): string {
  const m = Math.max(0, Math.round(milli));
  if (m % 1000 !== 0) return `${m}m`;
  let v = m / 1000;
  let i = 0;
  while (v !== 0 && v % 1000 === 0 && i < DECIMAL_SUFFIXES.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v}${DECIMAL_SUFFIXES[i]}`;
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
