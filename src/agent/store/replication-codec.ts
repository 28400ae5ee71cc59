// Wire messages of replication: JSON with base64 for binary fields. A change
// message is about 150 bytes of Automerge data, so the envelope's overhead
// (about 100 bytes) is tolerable and keeps the protocol easy to read in logs.

import type { IncarnationRef } from './replication-seam.ts';

/** Bumped on any incompatible change; messages of another version are ignored. */
export const PROTOCOL_VERSION = 1;

/** [resource, namespace, name, uid] */
export type WireRef = [string, string, string, string];

export type ReplicationMessage =
  /** Gossip: one local change of one incarnation. */
  | { v: number; t: 'change'; ref: WireRef; change: string }
  /** Anti-entropy step 1: the sender's digest per bucket. */
  | { v: number; t: 'digest'; buckets: number; digests: string[] }
  /** Answer to a digest: for every bucket that differs, the responder's (uid -> heads). */
  | { v: number; t: 'entries'; buckets: number[]; entries: [WireRef, string[]][] }
  /** Anti-entropy pull: whole saved docs of these uids. */
  | { v: number; t: 'get'; uids: string[] }
  /** Answer to get, and the body of a push. */
  | { v: number; t: 'docs'; docs: [WireRef, string][] }
  /** Anti-entropy push: docs the receiver lacks. */
  | { v: number; t: 'put'; docs: [WireRef, string][] }
  | { v: number; t: 'ok' };

type Body<T> = T extends unknown ? Omit<T, 'v'> : never;

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeMessage(m: Body<ReplicationMessage>): Uint8Array {
  return enc.encode(JSON.stringify({ v: PROTOCOL_VERSION, ...m }));
}

/** undefined for anything that is not a message of this protocol version. */
export function decodeMessage(bytes: Uint8Array): ReplicationMessage | undefined {
  try {
    const m = JSON.parse(dec.decode(bytes)) as ReplicationMessage;
    if (typeof m !== 'object' || m === null || m.v !== PROTOCOL_VERSION || typeof m.t !== 'string') return undefined;
    return m;
  } catch {
    return undefined;
  }
}

export function toWireRef(r: IncarnationRef): WireRef {
  return [r.resource, r.namespace, r.name, r.uid];
}

export function fromWireRef(w: unknown): IncarnationRef | undefined {
  if (!Array.isArray(w) || w.length !== 4 || !w.every((x) => typeof x === 'string')) return undefined;
  return { resource: w[0], namespace: w[1], name: w[2], uid: w[3] };
}

export function toB64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

export function fromB64(s: unknown): Uint8Array | undefined {
  if (typeof s !== 'string') return undefined;
  return new Uint8Array(Buffer.from(s, 'base64'));
}
