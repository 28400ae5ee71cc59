// Membership rules on a fake host and a fake clock: status transitions, what a
// heartbeat may claim, and which addresses discovery dials (and how often).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../../../src/agent/logger.ts';
import { PeerUnreachable } from '../../../src/net/errors.ts';
import type { GossipHandler, MeshHost, PeerEvent } from '../../../src/net/mesh-host.ts';
import { createMembership, HEARTBEAT_TOPIC, type Heartbeat, type Membership } from '../../../src/net/membership.ts';
import { waitFor } from './net-harness.ts';

const SELF = '12D3KooSelf';
const P1 = '12D3KooPeerOne';
const P2 = '12D3KooPeerTwo';

interface FakeHost extends MeshHost {
  dials: string[];
  connected: Set<string>;
  published: Heartbeat[];
  deliver(from: string, hb: Partial<Heartbeat>): void;
  emitPeer(ev: PeerEvent): void;
}

function fakeHost(): FakeHost {
  const handlers = new Map<string, GossipHandler>();
  const peerListeners = new Set<(ev: PeerEvent) => void>();
  const host: FakeHost = {
    peerId: SELF,
    dials: [],
    connected: new Set(),
    published: [],
    multiaddrs: () => [`/ip4/10.0.0.9/tcp/7946/p2p/${SELF}`],
    async dial(addr) {
      host.dials.push(addr);
      throw new PeerUnreachable('fake: nothing there');
    },
    async publish(topic, data) {
      assert.equal(topic, HEARTBEAT_TOPIC);
      host.published.push(JSON.parse(new TextDecoder().decode(data)) as Heartbeat);
    },
    subscribe(topic, handler) {
      handlers.set(topic, handler);
      return () => handlers.delete(topic);
    },
    topicPeers: () => [],
    async handle() {},
    async request() {
      throw new Error('unused');
    },
    connectedPeers: () => [...host.connected],
    isConnected: (id) => host.connected.has(id),
    onPeer(l) {
      peerListeners.add(l);
      return () => peerListeners.delete(l);
    },
    async stop() {},
    deliver(from, hb) {
      const full = { nodeName: 'n', peerId: from, addrs: [], stateDigest: { changes: 0 }, sentAt: 0, ...hb };
      handlers.get(HEARTBEAT_TOPIC)!(from, new TextEncoder().encode(JSON.stringify(full)));
    },
    emitPeer(ev) {
      for (const l of peerListeners) l(ev);
    },
  };
  return host;
}

const running: Membership[] = [];
after(async () => {
  for (const m of running) await m.stop();
});

function setup(opts: { seeds?: string[]; maxDialAttempts?: number; onKnownAddrs?: (a: string[]) => void } = {}) {
  const host = fakeHost();
  let clock = 1_000_000;
  const m = createMembership({
    host,
    nodeName: 'self',
    logger: silentLogger(),
    stateDigest: () => ({ changes: 7 }),
    seeds: opts.seeds,
    maxDialAttempts: opts.maxDialAttempts,
    onKnownAddrs: opts.onKnownAddrs,
    heartbeatMs: 1_000,
    checkMs: 5,
    now: () => clock,
  });
  running.push(m);
  return { host, m, advance: (ms: number) => (clock += ms), status: (id: string) => m.members().find((x) => x.peerId === id)?.status };
}

describe('membership rules', () => {
  it('goes alive -> suspect -> dead with silence, dead only once disconnected, alive again on a heartbeat', async () => {
    const { host, m, advance, status } = setup();
    await m.start();
    assert.equal(host.published[0]?.nodeName, 'self', 'heartbeats at start');
    assert.deepEqual(host.published[0]?.stateDigest, { changes: 7 });
    const seen: string[] = [];
    m.onChange((mem, prev) => seen.push(`${mem.nodeName}:${prev ?? '-'}->${mem.status}`));

    host.connected.add(P1);
    host.deliver(P1, { nodeName: 'one' });
    assert.equal(status(P1), 'alive');
    advance(1_999);
    assert.equal(status(P1), 'alive');
    advance(1);
    assert.equal(status(P1), 'suspect');
    advance(1_500); // 3.5 s of silence, but the connection is still open
    assert.equal(status(P1), 'suspect');
    host.connected.delete(P1);
    assert.equal(status(P1), 'dead');
    host.deliver(P1, { nodeName: 'one' });
    assert.equal(status(P1), 'alive');
    assert.deepEqual(seen, ['one:-->alive', 'one:alive->suspect', 'one:suspect->dead', 'one:dead->alive']);

    // A connection that stays open while the agent says nothing still ends in dead.
    host.connected.add(P1);
    advance(5_000);
    assert.equal(status(P1), 'dead');
  });

  it('believes a heartbeat only for the peer that signed it, and keeps only its own addresses', async () => {
    const { host, m, status } = setup();
    await m.start();
    host.deliver(P1, { peerId: P2, nodeName: 'liar' });
    assert.equal(status(P2), undefined);
    assert.equal(m.peerIdOf('liar'), undefined);
    host.deliver(P1, { peerId: SELF, nodeName: 'me-too' });
    assert.equal(m.members().filter((x) => x.peerId === SELF).length, 1);
    host.deliver(P1, { nodeName: 'one', addrs: ['/ip4/10.0.0.1/tcp/1', `/ip4/10.0.0.2/tcp/2/p2p/${P2}`, `/ip4/10.0.0.3/tcp/3/p2p/${P1}`] });
    const one = m.members().find((x) => x.peerId === P1)!;
    assert.deepEqual(one.addrs, [`/ip4/10.0.0.1/tcp/1/p2p/${P1}`, `/ip4/10.0.0.3/tcp/3/p2p/${P1}`]);
    host.deliver(P2, { nodeName: 'two', addrs: 'nope' as unknown as string[] });
    assert.equal(status(P2), undefined, 'malformed heartbeat dropped');
    assert.equal(m.nodeNameOf(P1), 'one');
    assert.equal(m.nodeNameOf(SELF), 'self');
  });

  it('keeps a member that left as left, and forgets a dead peer whose name comes back with a new id', async () => {
    const { host, m, advance, status } = setup();
    await m.start();
    host.deliver(P1, { nodeName: 'one' });
    host.deliver(P1, { nodeName: 'one', leaving: true });
    assert.equal(status(P1), 'left');
    advance(10_000);
    host.emitPeer({ type: 'disconnect', peerId: P1 });
    assert.equal(status(P1), 'left');

    host.deliver(P2, { nodeName: 'two' });
    advance(4_000);
    assert.equal(status(P2), 'dead');
    const P3 = '12D3KooPeerThree';
    host.deliver(P3, { nodeName: 'two' });
    assert.equal(m.peerIdOf('two'), P3);
    assert.equal(status(P2), undefined);

    await m.announceLeave();
    const last = host.published.at(-1)!;
    assert.equal(last.leaving, true);
    assert.equal(m.members().find((x) => x.self)?.status, 'left');
  });

  it('dials only announced and seed addresses, with bounded, backed-off retries', async () => {
    const seed = `/ip4/10.0.0.5/tcp/7946/p2p/${P2}`;
    const known: string[][] = [];
    const { host, m, advance } = setup({ seeds: [seed], maxDialAttempts: 3, onKnownAddrs: (a) => known.push(a) });
    await m.start();
    host.deliver(P1, { nodeName: 'one', addrs: [`/ip4/10.0.0.1/tcp/7946`] });
    const p1Addr = `/ip4/10.0.0.1/tcp/7946/p2p/${P1}`;
    assert.ok(await waitFor(() => host.dials.includes(p1Addr), 1_000));
    // Many checks pass, but the clock has not moved: the back-off holds the retry.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(host.dials.filter((d) => d === p1Addr).length, 1);
    // Drive the clock far enough for every back-off; the fake host fails every dial.
    for (let i = 0; i < 40; i++) {
      advance(1_000);
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(await waitFor(() => host.dials.filter((d) => d === p1Addr).length === 3, 1_000), host.dials.join('\n'));
    assert.equal(host.dials.filter((d) => d === seed).length, 3);
    assert.deepEqual(new Set(host.dials), new Set([p1Addr, seed]), 'nothing else dialled');

    // News of the member (a new address) gives discovery a fresh budget.
    host.deliver(P1, { nodeName: 'one', addrs: [`/ip4/10.0.0.7/tcp/7946`] });
    for (let i = 0; i < 5; i++) {
      advance(1_000);
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(await waitFor(() => host.dials.includes(`/ip4/10.0.0.7/tcp/7946/p2p/${P1}`), 1_000));
    // The addresses worth remembering were reported once per change.
    assert.deepEqual(known, [[p1Addr], [`/ip4/10.0.0.7/tcp/7946/p2p/${P1}`]]);
  });
});
