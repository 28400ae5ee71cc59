// One libp2p node per agent: TCP, a private network (pre-shared key), noise,
// yamux, identify, ping and gossipsub, plus a small length-prefixed
// request/response helper. Everything above this file speaks in peer-id strings
// and byte arrays, so no other module touches libp2p types.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { join } from 'node:path';
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify, type Identify } from '@libp2p/identify';
import { ping, type Ping } from '@libp2p/ping';
import { gossipsub, StrictSign, type GossipSub } from '@libp2p/gossipsub';
import { preSharedKey } from '@libp2p/pnet';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import type { PeerId, PrivateKey, Stream } from '@libp2p/interface';
import * as lp from 'it-length-prefixed';
import type { Logger } from '../agent/logger.ts';
import { PSK_LENGTH } from './join-token.ts';
import { NetError, PeerUnreachable, RemoteError, RequestTimeout } from './errors.ts';
import type { TrafficTap } from './traffic-tap.ts';

/** Default libp2p port for agents. */
export const DEFAULT_MESH_PORT = 7946;

export interface MeshHostOptions {
  dataDir: string;
  /** IP address to listen on (e.g. 0.0.0.0, 127.0.0.1, ::). */
  listenAddress: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** The cluster's 32-byte pre-shared key. */
  psk: Uint8Array;
  logger: Logger;
  /** Use this identity instead of <dataDir>/net/peer.key (nothing is written then). */
  privateKey?: PrivateKey;
  /** Gossipsub heartbeat; short so that messages spread well under 500 ms. */
  gossipHeartbeatMs?: number;
  /** Largest request or response accepted on a stream. */
  maxMessageBytes?: number;
  /** Sees every application-layer message in and out (tests only; see traffic-tap.ts). */
  tap?: TrafficTap;
}

export interface RequestOptions {
  timeoutMs?: number;
}

export type GossipHandler = (fromPeerId: string, data: Uint8Array) => void;
export type RequestHandler = (fromPeerId: string, request: Uint8Array) => Promise<Uint8Array>;
export interface PeerEvent {
  type: 'connect' | 'disconnect';
  peerId: string;
}

export interface MeshHost {
  readonly peerId: string;
  /** Listening addresses, each ending in /p2p/<peerId>. */
  multiaddrs(): string[];
  /** Connects to a multiaddr; resolves to the remote peer id. Fails with PeerUnreachable. */
  dial(addr: string, opts?: RequestOptions): Promise<string>;
  publish(topic: string, data: Uint8Array): Promise<void>;
  /** Calls handler for every message on topic signed by another peer; returns an unsubscribe function. */
  subscribe(topic: string, handler: GossipHandler): () => void;
  /** Peers known to be subscribed to topic. */
  topicPeers(topic: string): string[];
  /** Serves protocol; opts.timeoutMs bounds reading the request, running the handler and answering. */
  handle(protocol: string, handler: RequestHandler, opts?: RequestOptions): Promise<void>;
  /** Sends one request to a peer id (already connected or in the peer store) or a multiaddr; resolves to the response. */
  request(target: string, protocol: string, data: Uint8Array, opts?: RequestOptions): Promise<Uint8Array>;
  connectedPeers(): string[];
  isConnected(peerId: string): boolean;
  /** Peer connect/disconnect notifications; returns an unsubscribe function. */
  onPeer(listener: (ev: PeerEvent) => void): () => void;
  stop(): Promise<void>;
}

const STATUS_OK = 0;
const STATUS_ERROR = 1;
const DEFAULT_TIMEOUT_MS = 5_000;
const DEFAULT_MAX_MESSAGE = 16 * 1024 * 1024;

/** The pnet swarm-key text for a raw 32-byte key. */
export function swarmKey(psk: Uint8Array): Uint8Array {
  if (psk.length !== PSK_LENGTH) throw new NetError(`psk must be ${PSK_LENGTH} bytes, got ${psk.length}`);
  return new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${Buffer.from(psk).toString('hex')}`);
}

function peerKeyPath(dataDir: string): string {
  return join(dataDir, 'net', 'peer.key');
}

/** The node's persisted identity key, if it has one. */
export async function loadPeerKey(dataDir: string): Promise<PrivateKey | undefined> {
  const path = peerKeyPath(dataDir);
  if (!existsSync(path)) return undefined;
  return privateKeyFromProtobuf(new Uint8Array(await readFile(path)));
}

export async function savePeerKey(dataDir: string, key: PrivateKey): Promise<void> {
  const path = peerKeyPath(dataDir);
  await mkdir(join(dataDir, 'net'), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp`;
  await writeFile(tmp, privateKeyToProtobuf(key), { mode: 0o600 });
  await rename(tmp, path);
}

export function generatePeerKey(): Promise<PrivateKey> {
  return generateKeyPair('Ed25519');
}

/** Loads the node's identity key, creating it on first use so the peer id survives restarts. */
export async function loadOrCreatePeerKey(dataDir: string): Promise<PrivateKey> {
  const existing = await loadPeerKey(dataDir);
  if (existing) return existing;
  const key = await generatePeerKey();
  await savePeerKey(dataDir, key);
  return key;
}

type Services = {
  pubsub: GossipSub;
  identify: Identify;
  ping: Ping;
};

export async function createMeshHost(opts: MeshHostOptions): Promise<MeshHost> {
  const log = opts.logger.child({ component: 'mesh-host' });
  const maxBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE;
  const privateKey = opts.privateKey ?? (await loadOrCreatePeerKey(opts.dataDir));
  const family = isIPv6(opts.listenAddress) ? 'ip6' : 'ip4';

  const node: Libp2p<Services> = await createLibp2p<Services>({
    privateKey,
    addresses: { listen: [`/${family}/${opts.listenAddress}/tcp/${opts.port}`] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionProtector: preSharedKey({ psk: swarmKey(opts.psk) }),
    // Ping often so a dead peer's connection is dropped within a few seconds
    // instead of the default tens of seconds.
    connectionMonitor: { pingInterval: 1_000, pingTimeout: { minTimeout: 500, maxTimeout: 2_000 } },
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        globalSignaturePolicy: StrictSign,
        heartbeatInterval: opts.gossipHeartbeatMs ?? 250,
        allowPublishToZeroTopicPeers: true,
        // Small clusters: send our own messages to every subscriber, not only the mesh.
        floodPublish: true,
        emitSelf: false,
      }),
    },
  });

  const peerId = node.peerId.toString();
  const tap = opts.tap ?? (() => undefined);
  const topicHandlers = new Map<string, Set<GossipHandler>>();
  const peerListeners = new Set<(ev: PeerEvent) => void>();

  node.services.pubsub.addEventListener('message', (evt) => {
    const msg = evt.detail;
    // StrictSign rejects unsigned messages before they get here; this is a guard.
    if (msg.type !== 'signed') return;
    const from = msg.from.toString();
    if (from === peerId) return;
    tap({ direction: 'in', kind: 'gossip', channel: msg.topic, peer: from, data: msg.data });
    for (const h of topicHandlers.get(msg.topic) ?? []) {
      try {
        h(from, msg.data);
      } catch (err) {
        log.warn({ err, topic: msg.topic, from }, 'gossip handler failed');
      }
    }
  });

  const emitPeer = (ev: PeerEvent) => {
    for (const l of peerListeners) {
      try {
        l(ev);
      } catch (err) {
        log.warn({ err }, 'peer listener failed');
      }
    }
  };
  node.addEventListener('peer:connect', (evt) => emitPeer({ type: 'connect', peerId: evt.detail.toString() }));
  node.addEventListener('peer:disconnect', (evt) => emitPeer({ type: 'disconnect', peerId: evt.detail.toString() }));

  const handled: string[] = [];
  let stopped = false;

  log.info({ peerId, addrs: node.getMultiaddrs().map(String) }, 'mesh host started');

  return {
    peerId,
    multiaddrs: () => node.getMultiaddrs().map(String),

    async dial(addr, o = {}) {
      const ma = parseMultiaddr(addr);
      const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        const conn = await node.dial(ma, { signal });
        return conn.remotePeer.toString();
      } catch (err) {
        // A peer outside the private network may stall the handshake rather than
        // reset it: either way it is unreachable.
        if (signal.aborted) throw new PeerUnreachable(`dial ${addr} timed out after ${timeoutMs} ms`, { cause: err });
        throw new PeerUnreachable(`dial ${addr} failed: ${(err as Error).message}`, { cause: err });
      }
    },

    async publish(topic, data) {
      tap({ direction: 'out', kind: 'gossip', channel: topic, peer: '*', data });
      await node.services.pubsub.publish(topic, data);
    },

    subscribe(topic, handler) {
      let set = topicHandlers.get(topic);
      if (!set) {
        set = new Set();
        topicHandlers.set(topic, set);
        node.services.pubsub.subscribe(topic);
      }
      set.add(handler);
      return () => {
        const s = topicHandlers.get(topic);
        if (!s) return;
        s.delete(handler);
        if (s.size === 0) {
          topicHandlers.delete(topic);
          if (!stopped) node.services.pubsub.unsubscribe(topic);
        }
      };
    },

    topicPeers: (topic) => node.services.pubsub.getSubscribers(topic).map(String),

    async handle(protocol, handler, o = {}) {
      const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      await node.handle(protocol, async (stream, connection) => {
        const from = connection.remotePeer.toString();
        const signal = AbortSignal.timeout(timeoutMs);
        try {
          const request = await readFrame(stream, signal, maxBytes);
          tap({ direction: 'in', kind: 'request', channel: protocol, peer: from, data: request });
          let status = STATUS_OK;
          let body: Uint8Array;
          try {
            body = await handler(from, request);
          } catch (err) {
            status = STATUS_ERROR;
            body = new TextEncoder().encode((err as Error).message || String(err));
            log.debug({ err, protocol, from }, 'request handler failed');
          }
          tap({ direction: 'out', kind: 'response', channel: protocol, peer: from, data: body });
          const framed = new Uint8Array(body.length + 1);
          framed[0] = status;
          framed.set(body, 1);
          await writeFrame(stream, framed, signal);
          await stream.close({ signal });
        } catch (err) {
          log.debug({ err, protocol, from }, 'request stream failed');
          stream.abort(err as Error);
        }
      });
      handled.push(protocol);
    },

    async request(target, protocol, data, o = {}) {
      const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      const signal = AbortSignal.timeout(timeoutMs);
      const timedOut = (err: unknown) =>
        new RequestTimeout(`${protocol} request to ${target} timed out after ${timeoutMs} ms`, { cause: err });
      let stream: Stream;
      try {
        stream = await node.dialProtocol(dialTarget(target), protocol, { signal });
      } catch (err) {
        if (signal.aborted) throw timedOut(err);
        throw new PeerUnreachable(`cannot open ${protocol} to ${target}: ${(err as Error).message}`, { cause: err });
      }
      let frame: Uint8Array;
      tap({ direction: 'out', kind: 'request', channel: protocol, peer: target, data });
      try {
        await writeFrame(stream, data, signal);
        await stream.close({ signal });
        frame = await readFrame(stream, signal, maxBytes);
      } catch (err) {
        stream.abort(err as Error);
        if (signal.aborted) throw timedOut(err);
        throw new PeerUnreachable(`${protocol} request to ${target} failed: ${(err as Error).message}`, { cause: err });
      }
      if (frame.length === 0) throw new RemoteError(`${protocol} response from ${target} was empty`);
      const body = frame.subarray(1);
      tap({ direction: 'in', kind: 'response', channel: protocol, peer: target, data: body });
      if (frame[0] === STATUS_OK) return body;
      throw new RemoteError(`${protocol} on ${target}: ${new TextDecoder().decode(body)}`);
    },

    connectedPeers: () => node.getPeers().map(String),
    isConnected: (id) => node.getPeers().some((p) => p.toString() === id),

    onPeer(listener) {
      peerListeners.add(listener);
      return () => peerListeners.delete(listener);
    },

    async stop() {
      if (stopped) return;
      stopped = true;
      peerListeners.clear();
      topicHandlers.clear();
      if (handled.length > 0) await node.unhandle(handled).catch(() => undefined);
      await node.stop();
      log.info({ peerId }, 'mesh host stopped');
    },
  };
}

function parseMultiaddr(addr: string): Multiaddr {
  try {
    return multiaddr(addr);
  } catch (err) {
    throw new NetError(`not a multiaddr: "${addr}": ${(err as Error).message}`);
  }
}

/** A target starting with "/" is a multiaddr, anything else a peer id. */
function dialTarget(target: string): PeerId | Multiaddr {
  if (target.startsWith('/')) return parseMultiaddr(target);
  try {
    return peerIdFromString(target);
  } catch (err) {
    throw new NetError(`not a peer id or multiaddr: "${target}": ${(err as Error).message}`);
  }
}

async function writeFrame(stream: Stream, data: Uint8Array, signal: AbortSignal): Promise<void> {
  if (!stream.send(lp.encode.single(data))) await stream.onDrain({ signal });
}

/** Reads exactly one length-prefixed frame; aborting the signal aborts the stream. */
async function readFrame(stream: Stream, signal: AbortSignal, maxDataLength: number): Promise<Uint8Array> {
  const onAbort = () => stream.abort(new RequestTimeout('stream deadline passed'));
  if (signal.aborted) onAbort();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of lp.decode(stream, { maxDataLength })) return chunk.subarray();
    throw new NetError('stream closed before a message arrived');
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
