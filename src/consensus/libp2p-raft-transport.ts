// Raft traffic over the mesh's libp2p host. Every Raft message is one request
// on RAFT_MESSAGE_PROTOCOL answered with an empty ack (send() never waits for
// it and never throws: the core tolerates loss). request() is one exchange on
// RAFT_RPC_PROTOCOL. Node names come from the mesh membership; the sender of a
// message is the peer of the libp2p connection (authenticated by noise), so a
// message whose `from` is not that peer's node name is dropped.
import type { Logger } from '../agent/logger.ts';
import type { MeshHost } from '../net/mesh-host.ts';
import { PeerUnreachable } from '../net/errors.ts';
import type { RaftTransport } from './raft-node.ts';
import { createRaftRequestHandlers } from './raft-request-handlers.ts';
import type { Message, MessageType, NodeId } from './raft-types.ts';

export const RAFT_MESSAGE_PROTOCOL = '/mesh/raft/1.0.0';
export const RAFT_RPC_PROTOCOL = '/mesh/raft-rpc/1.0.0';

export interface Libp2pRaftTransportOptions {
  host: MeshHost;
  /** The peer id of a node name (mesh membership). */
  peerIdOf: (node: NodeId) => string | undefined;
  /** The node name of a peer id (mesh membership). */
  nodeNameOf: (peerId: string) => string | undefined;
  logger: Logger;
  /** This agent's node name: messages addressed to another node are dropped. Default: nodeNameOf(host.peerId). */
  nodeName?: NodeId;
  /** Largest encoded message or request; keep it at or below the host's maxMessageBytes (16 MiB by default). */
  maxMessageBytes?: number;
  /** Deadline of one message delivery. */
  sendTimeoutMs?: number;
  /** How long a request handler may run (a forwarded proposal waits for its commit). */
  rpcHandlerTimeoutMs?: number;
}

const MESSAGE_TYPES: ReadonlySet<MessageType> = new Set<MessageType>([
  'pre-vote',
  'pre-vote-resp',
  'vote',
  'vote-resp',
  'append',
  'append-resp',
  'heartbeat',
  'heartbeat-resp',
  'snapshot',
  'read-index',
  'read-index-resp',
  'timeout-now',
]);

const DEFAULT_MAX_BYTES = 16 * 1024 * 1024 - 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);

/** The shape checks a message from the network must pass before it reaches the core. */
export function parseRaftMessage(bytes: Uint8Array): Message | undefined {
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const m = v as Partial<Message>;
  if (typeof m.type !== 'string' || !MESSAGE_TYPES.has(m.type)) return undefined;
  if (typeof m.from !== 'string' || typeof m.to !== 'string') return undefined;
  if (typeof m.term !== 'number' || !Number.isSafeInteger(m.term) || m.term < 0) return undefined;
  for (const k of ['logIndex', 'logTerm', 'commit', 'hint', 'readIndex'] as const) {
    if (m[k] !== undefined && (typeof m[k] !== 'number' || !Number.isSafeInteger(m[k]))) return undefined;
  }
  if (m.entries !== undefined && !Array.isArray(m.entries)) return undefined;
  if (m.context !== undefined && typeof m.context !== 'string') return undefined;
  if (m.reject !== undefined && typeof m.reject !== 'boolean') return undefined;
  if (m.transfer !== undefined && typeof m.transfer !== 'boolean') return undefined;
  if (m.snapshot !== undefined && (typeof m.snapshot !== 'object' || m.snapshot === null || typeof m.snapshot.data !== 'string')) return undefined;
  return m as Message;
}

export async function createLibp2pRaftTransport(opts: Libp2pRaftTransportOptions): Promise<RaftTransport> {
  const log = opts.logger.child({ component: 'raft-transport' });
  const host = opts.host;
  const maxBytes = opts.maxMessageBytes ?? DEFAULT_MAX_BYTES;
  const sendTimeoutMs = opts.sendTimeoutMs ?? 2_000;
  const handlers = new Set<(msg: Message) => void>();
  const requests = createRaftRequestHandlers();
  let stopped = false;
  const selfName = () => opts.nodeName ?? opts.nodeNameOf(host.peerId);

  await host.handle(RAFT_MESSAGE_PROTOCOL, async (fromPeer, bytes) => {
    if (stopped) return EMPTY;
    const msg = parseRaftMessage(bytes);
    const sender = opts.nodeNameOf(fromPeer);
    if (!msg) log.debug({ fromPeer }, 'dropped a malformed raft message');
    else if (sender === undefined || sender !== msg.from) log.debug({ fromPeer, sender, claimed: msg.from }, 'dropped a raft message from the wrong sender');
    else if (msg.to !== selfName()) log.debug({ from: msg.from, to: msg.to }, 'dropped a raft message for another node');
    else {
      for (const h of [...handlers]) {
        try {
          h(msg);
        } catch (err) {
          log.warn({ err, type: msg.type, from: msg.from }, 'raft message handler failed');
        }
      }
    }
    return EMPTY;
  });

  await host.handle(
    RAFT_RPC_PROTOCOL,
    async (fromPeer, bytes) => {
      if (stopped) throw new Error('raft transport stopped');
      const sender = opts.nodeNameOf(fromPeer);
      if (sender === undefined) throw new Error(`unknown peer ${fromPeer}`);
      const req = JSON.parse(decoder.decode(bytes)) as { kind?: unknown; body?: unknown };
      if (typeof req.kind !== 'string' || typeof req.body !== 'string') throw new Error('malformed raft request');
      return encoder.encode(await requests.dispatch(sender, req.kind, req.body));
    },
    { timeoutMs: opts.rpcHandlerTimeoutMs ?? 30_000 },
  );

  return {
    send(msg) {
      if (stopped) return;
      const peer = opts.peerIdOf(msg.to);
      if (peer === undefined) {
        log.debug({ to: msg.to, type: msg.type }, 'no peer id for raft message target');
        return;
      }
      const bytes = encoder.encode(JSON.stringify(msg));
      if (bytes.length > maxBytes) {
        log.warn({ to: msg.to, type: msg.type, bytes: bytes.length, maxBytes }, 'dropped an oversized raft message');
        return;
      }
      host.request(peer, RAFT_MESSAGE_PROTOCOL, bytes, { timeoutMs: sendTimeoutMs }).catch((err: unknown) => {
        log.debug({ err, to: msg.to, type: msg.type }, 'raft message not delivered');
      });
    },

    onMessage(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },

    async request(to, kind, body, o = {}) {
      if (stopped) throw new PeerUnreachable('raft transport stopped');
      const peer = opts.peerIdOf(to);
      if (peer === undefined) throw new PeerUnreachable(`no peer id known for node ${to}`);
      const bytes = encoder.encode(JSON.stringify({ kind, body }));
      if (bytes.length > maxBytes) throw new RangeError(`raft request ${kind} is ${bytes.length} bytes, over the ${maxBytes} byte limit`);
      const answer = await host.request(peer, RAFT_RPC_PROTOCOL, bytes, { timeoutMs: o.timeoutMs ?? 5_000 });
      return decoder.decode(answer);
    },

    onRequest(handler) {
      return requests.add(handler);
    },

    async stop() {
      // The host has no unhandle for one protocol; its own stop() removes both.
      stopped = true;
      handlers.clear();
      requests.clear();
    },
  };
}
