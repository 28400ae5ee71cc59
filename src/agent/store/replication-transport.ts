// What the replicator needs from the network, and nothing more. Bytes in, bytes
// out; the replicator owns the encoding (replication-codec.ts). The libp2p
// adapter (src/net) implements it with gossipsub for broadcast and a
// request/response protocol for request; sim-transport.ts implements it in
// memory for simulations.

export interface ReplicationTransport {
  /** This agent's peer id. */
  readonly selfId: string;
  /**
   * Best effort to every other peer (gossip). Loss, duplicates and reordering
   * are fine: anti-entropy repairs them. Must not deliver to self.
   */
  broadcast(bytes: Uint8Array): void;
  /**
   * One handler for broadcasts from others. `fromPeer` is the peer the bytes
   * came from (for logs: authorization looks at each change's recorded author,
   * not at the sender). The returned promise, if any, may be used for
   * backpressure; it never rejects.
   */
  onBroadcast(handler: (fromPeer: string, bytes: Uint8Array) => void | Promise<void>): void;
  /** One request to one peer; rejects on timeout, unknown peer or a remote failure. */
  request(peer: string, bytes: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /** One handler for requests from others; its answer is the response. */
  onRequest(handler: (fromPeer: string, bytes: Uint8Array) => Promise<Uint8Array>): void;
  /** Peers currently reachable (without self); anti-entropy picks from these. */
  peers(): string[];
}
