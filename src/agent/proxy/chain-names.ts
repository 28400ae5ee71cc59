// Names of Mesh's iptables chains, built the way kube-proxy builds its own:
// a prefix and the first 16 characters of the base32 of a SHA-256, so a name
// stays under iptables' 28-character limit, is stable across restarts and
// agents, and says nothing readable about the service (comments do that).
import { createHash } from 'node:crypto';

export const CHAIN_PREFIX = 'MESH-';
export const SERVICES_CHAIN = 'MESH-SERVICES';
export const EXTERNAL_SERVICES_CHAIN = 'MESH-EXTERNAL-SERVICES';
export const NODEPORTS_CHAIN = 'MESH-NODEPORTS';
export const POSTROUTING_CHAIN = 'MESH-POSTROUTING';
export const MARK_MASQ_CHAIN = 'MESH-MARK-MASQ';
export const FORWARD_CHAIN = 'MESH-FORWARD';

/** The per-service chain families the renderer creates and may later delete. */
export const PER_SERVICE_CHAIN = /^MESH-(SVC|SVL|EXT|SEP|FW)-[A-Z2-7]{16}$/;

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Uint8Array, chars: number): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < chars) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length >= chars) break;
    value &= (1 << bits) - 1;
  }
  return out;
}

/** base32(sha256(text)) cut to 16 characters, as kube-proxy's portProtoHash. */
export function hash16(text: string): string {
  return base32(createHash('sha256').update(text).digest(), 16);
}

export interface ChainNamer {
  /** Chain of a service port's cluster-wide endpoints: MESH-SVC-<hash(svcPortName + protocol)>. */
  svc(svcPortName: string, protocol: string): string;
  /** Chain of its node-local endpoints (traffic policy Local). */
  svl(svcPortName: string, protocol: string): string;
  /** Chain of its external traffic (NodePort, LoadBalancer IPs) under traffic policy Local. */
  ext(svcPortName: string, protocol: string): string;
  /** Per-endpoint name (kube's SEP chain); Mesh uses it for the ClientIP affinity list. */
  sep(svcPortName: string, protocol: string, endpoint: string): string;
}

/**
 * Hashing is most of the renderer's cost at 10,000 services, so a namer keeps
 * the names it made; the proxy holds one for its lifetime (the cache only grows
 * with the names seen, and a process restart empties it).
 */
export function createChainNamer(opts: { maxEntries?: number } = {}): ChainNamer {
  const max = opts.maxEntries ?? 200_000;
  const hashes = new Map<string, string>();
  const hashOf = (key: string): string => {
    let h = hashes.get(key);
    if (h === undefined) {
      if (hashes.size >= max) hashes.clear();
      h = hash16(key);
      hashes.set(key, h);
    }
    return h;
  };
  // kube hashes the lower-case protocol ("tcp"), so the same service port gets
  // the same suffix in both projects.
  return {
    svc: (spn, proto) => 'MESH-SVC-' + hashOf(spn + proto.toLowerCase()),
    svl: (spn, proto) => 'MESH-SVL-' + hashOf(spn + proto.toLowerCase()),
    ext: (spn, proto) => 'MESH-EXT-' + hashOf(spn + proto.toLowerCase()),
    sep: (spn, proto, ep) => 'MESH-SEP-' + hashOf(spn + proto.toLowerCase() + ep),
  };
}
