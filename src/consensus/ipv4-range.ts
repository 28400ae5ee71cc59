// IPv4 addresses as unsigned 32-bit numbers, and the ranges the allocators hand
// out from (a CIDR, or `first-last`). IPv4 only: Mesh's service, pod and
// LoadBalancer ranges are single-stack IPv4 for now.
import { isIPv4 } from 'node:net';

export interface Ipv4Range {
  /** The first address of the range (a CIDR's network address). */
  start: number;
  /** Number of addresses. */
  size: number;
  /** Prefix length when the range was given as a CIDR. */
  prefix?: number;
  /** As configured, for messages. */
  text: string;
}

export function parseIpv4(text: string): number | undefined {
  if (!isIPv4(text)) return undefined;
  const [a, b, c, d] = text.split('.').map(Number) as [number, number, number, number];
  return ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;
}

export function formatIpv4(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** `10.96.0.0/16`; throws when malformed or when the address has bits set past the prefix. */
export function parseCidr(text: string): Ipv4Range {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text.trim());
  const base = m ? parseIpv4(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (base === undefined || !(prefix >= 0 && prefix <= 32)) throw new Error(`"${text}" is not an IPv4 CIDR (e.g. 10.96.0.0/16)`);
  const size = 2 ** (32 - prefix);
  if (base % size !== 0) throw new Error(`"${text}" has host bits set; the network address is ${formatIpv4(base - (base % size))}/${prefix}`);
  return { start: base, size, prefix, text: text.trim() };
}

/** A CIDR, or an inclusive `first-last` range of IPv4 addresses. */
export function parseIpv4Range(text: string): Ipv4Range {
  const t = text.trim();
  if (t.includes('/')) return parseCidr(t);
  const parts = t.split('-').map((s) => s.trim());
  const first = parts.length === 2 ? parseIpv4(parts[0]!) : undefined;
  const last = parts.length === 2 ? parseIpv4(parts[1]!) : undefined;
  if (first === undefined || last === undefined) throw new Error(`"${text}" is neither an IPv4 CIDR nor a first-last range of IPv4 addresses`);
  if (last < first) throw new Error(`"${text}": the last address comes before the first`);
  return { start: first, size: last - first + 1, text: t };
}

export function formatCidr(start: number, prefix: number): string {
  return `${formatIpv4(start)}/${prefix}`;
}

export function inRange(r: Pick<Ipv4Range, 'start' | 'size'>, ip: number): boolean {
  return ip >= r.start && ip < r.start + r.size;
}
