// The store's ReplicationTransport on the libp2p mesh: broadcasts go out on a
// gossipsub topic, anti-entropy requests on a request/response protocol.
import type { ReplicationTransport } from '../agent/store/replication-transport.ts';
import type { MeshHost } from './mesh-host.ts';

export const STATE_TOPIC = 'mesh/state/1';
export const SYNC_PROTOCOL = '/mesh/sync/1.0.0';

export async function createGossipReplicationTransport(host: MeshHost): Promise<ReplicationTransport & { close(): void }> {
  let onBroadcast: ((fromPeer: string, bytes: Uint8Array) => void | Promise<void>) | undefined;
  let onRequest: ((fromPeer: string, bytes: Uint8Array) => Promise<Uint8Array>) | undefined;
  const unsubscribe = host.subscribe(STATE_TOPIC, (from, data) => void onBroadcast?.(from, data));
  await host.handle(SYNC_PROTOCOL, async (from, req) => {
    if (!onRequest) throw new Error('this agent is not replicating yet');
    return onRequest(from, req);
  });
  return {
    selfId: host.peerId,
    broadcast(bytes) {
      // Best effort: anti-entropy repairs whatever gossip drops.
      host.publish(STATE_TOPIC, bytes).catch(() => undefined);
    },
    onBroadcast(handler) {
      onBroadcast = handler;
    },
    request(peer, bytes, timeoutMs) {
      return host.request(peer, SYNC_PROTOCOL, bytes, { timeoutMs });
    },
    onRequest(handler) {
      onRequest = handler;
    },
    peers: () => host.connectedPeers(),
    close: unsubscribe,
  };
}
