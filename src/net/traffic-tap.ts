// An opt-in record of everything this agent sends to and receives from its
// peers at the application layer (gossip messages and request/response frames,
// before libp2p encrypts them). Tests use it to prove what never crosses the
// wire, e.g. that Secret values stay out of gossip. Off unless
// MESH_TRAFFIC_TAP names a directory.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export interface TrafficRecord {
  direction: 'in' | 'out';
  /** `gossip` for pubsub, `request`/`response` for protocol streams. */
  kind: 'gossip' | 'request' | 'response';
  /** The topic or protocol. */
  channel: string;
  peer: string;
  data: Uint8Array;
}

export type TrafficTap = (record: TrafficRecord) => void;

/** One JSON line per record, the payload base64-encoded, in <dir>/<name>.tap. */
export function createFileTrafficTap(dir: string, name: string): TrafficTap {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.tap`);
  return (r) => {
    const line = JSON.stringify({ ...r, data: Buffer.from(r.data).toString('base64'), at: Date.now() });
    appendFileSync(path, line + '\n');
  };
}

export function trafficTapFromEnv(name: string): TrafficTap | undefined {
  const dir = process.env.MESH_TRAFFIC_TAP;
  return dir ? createFileTrafficTap(dir, name) : undefined;
}
