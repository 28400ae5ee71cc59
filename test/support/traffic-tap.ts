// Reads the traffic taps agents write when MESH_TRAFFIC_TAP is set
// (src/net/traffic-tap.ts) and turns every payload into searchable text: the
// raw bytes as UTF-8, and for store replication the Automerge changes and saved
// documents decoded to JSON, since their binary form may be compressed.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as A from '@automerge/automerge';
import { decodeMessage, fromB64 } from '../../src/agent/store/replication-codec.ts';

export interface TappedMessage {
  node: string;
  direction: string;
  kind: string;
  channel: string;
  /** Everything the payload says, as text. */
  text: string;
}

function decodedReplication(bytes: Uint8Array): string[] {
  const m = decodeMessage(bytes);
  if (!m) return [];
  const out: string[] = [];
  if (m.t === 'change') {
    const change = fromB64(m.change);
    if (change) out.push(JSON.stringify(A.decodeChange(change)));
  }
  if (m.t === 'docs' || m.t === 'put') {
    for (const [, doc] of m.docs) {
      const bytes = fromB64(doc);
      if (!bytes) continue;
      const d = A.load(bytes);
      out.push(JSON.stringify(A.toJS(d)));
      A.free(d);
    }
  }
  return out;
}

export async function readTaps(dir: string): Promise<TappedMessage[]> {
  const out: TappedMessage[] = [];
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith('.tap'));
  } catch {
    return out;
  }
  for (const f of files) {
    for (const line of (await readFile(join(dir, f), 'utf8')).split('\n')) {
      if (!line) continue;
      const r = JSON.parse(line) as { direction: string; kind: string; channel: string; data: string };
      const bytes = new Uint8Array(Buffer.from(r.data, 'base64'));
      const text = [Buffer.from(bytes).toString('utf8'), ...decodedReplication(bytes)].join('\n');
      out.push({ node: f.replace(/\.tap$/, ''), direction: r.direction, kind: r.kind, channel: r.channel, text });
    }
  }
  return out;
}
