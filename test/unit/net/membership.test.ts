// Membership over real gossip: discovery through heartbeats, failure detection,
// recovery after a restart with the same identity, and a graceful leave.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../../../src/agent/logger.ts';
import type { MeshHost } from '../../../src/net/mesh-host.ts';
import { createMembership, type Member, type Membership, type MemberStatus } from '../../../src/net/membership.ts';
import { createHarness, newPsk, waitFor } from './net-harness.ts';

const h = createHarness();
after(() => h.cleanup());

interface Agent {
  name: string;
  dir: string;
  host: MeshHost;
  membership: Membership;
  changes: { node: string; from: MemberStatus | undefined; to: MemberStatus; at: number }[];
}

async function agent(name: string, psk: Uint8Array, seeds: string[], dir?: string): Promise<Agent> {
  const dataDir = dir ?? (await h.tempDir());
  const host = await h.host(psk, dataDir);
  let changes = 0;
  const membership = h.track(
    createMembership({ host, nodeName: name, logger: silentLogger(), seeds, stateDigest: () => ({ changes: ++changes }) }),
  );
  const a: Agent = { name, dir: dataDir, host, membership, changes: [] };
  membership.onChange((m, from) => a.changes.push({ node: m.nodeName, from, to: m.status, at: Date.now() }));
  await membership.start();
  return a;
}

const member = (a: Agent, node: string): Member | undefined => a.membership.members().find((m) => m.nodeName === node);
const statusOf = (a: Agent, node: string) => member(a, node)?.status;

async function stopAgent(a: Agent): Promise<void> {
  await a.membership.stop();
  await a.host.stop();
}

describe('membership', () => {
  it('discovers, detects death, sees recovery and a leave', async (t) => {
    const t0 = Date.now();
    const phase = (name: string) => t.diagnostic(`${name} at ${Date.now() - t0} ms`);
    const psk = newPsk();
    const a = await agent('node-a', psk, []);
    const b = await agent('node-b', psk, a.host.multiaddrs());
    // C knows only B; it must learn A from the heartbeats B relays and dial A itself.
    const c = await agent('node-c', psk, b.host.multiaddrs());

    assert.ok(await waitFor(() => statusOf(c, 'node-a') === 'alive' && c.host.isConnected(a.host.peerId), 6_000), 'C found A');
    phase('C found A');
    assert.ok(await waitFor(() => statusOf(a, 'node-c') === 'alive' && statusOf(a, 'node-b') === 'alive', 3_000), 'A sees B and C');
    assert.equal(c.membership.peerIdOf('node-a'), a.host.peerId);
    assert.equal(c.membership.nodeNameOf(a.host.peerId), 'node-a');
    assert.equal(c.membership.peerIdOf('node-c'), c.host.peerId);
    assert.equal(c.membership.peerIdOf('nope'), undefined);
    const seenA = member(c, 'node-a')!;
    assert.ok(seenA.addrs.includes(a.host.multiaddrs()[0]!), 'announced addresses carried');
    assert.ok(seenA.stateDigest.changes >= 1, 'state digest carried');
    const self = c.membership.members().filter((m) => m.self);
    assert.deepEqual(self.map((m) => [m.nodeName, m.status]), [['node-c', 'alive']]);
    assert.deepEqual(a.changes.filter((x) => x.node === 'node-b').map((x) => x.to), ['alive'], 'first sight is reported');

    // Stop B: A and C must call it dead within 3-4 s.
    const bId = b.host.peerId;
    const stoppedAt = Date.now();
    await stopAgent(b);
    assert.ok(await waitFor(() => statusOf(a, 'node-b') === 'dead' && statusOf(c, 'node-b') === 'dead', 4_500), 'B is dead');
    phase('B dead');
    const deadAt = a.changes.find((x) => x.node === 'node-b' && x.to === 'dead')!.at;
    assert.ok(deadAt - stoppedAt <= 4_000, `dead after ${deadAt - stoppedAt} ms`);
    const silence = deadAt - member(a, 'node-b')!.lastSeen;
    assert.ok(silence >= 3_000, `not before 3 s of silence (${silence} ms)`);
    assert.equal(statusOf(a, 'node-c'), 'alive', 'C unaffected');

    // Restart B from the same data dir: same peer id, alive again.
    const b2 = await agent('node-b', psk, [a.host.multiaddrs()[0]!], b.dir);
    assert.equal(b2.host.peerId, bId);
    assert.ok(await waitFor(() => statusOf(a, 'node-b') === 'alive' && statusOf(c, 'node-b') === 'alive', 4_000), 'B is back');
    phase('B back');
    assert.equal(a.membership.members().filter((m) => m.nodeName === 'node-b').length, 1);

    // C leaves: the others record `left`, not dead, even after its connections close.
    assert.ok(await waitFor(() => statusOf(b2, 'node-c') === 'alive', 3_000), 'restarted B sees C');
    await c.membership.announceLeave();
    await stopAgent(c);
    assert.ok(await waitFor(() => statusOf(a, 'node-c') === 'left' && statusOf(b2, 'node-c') === 'left', 3_000), 'C left');
    phase('C left');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(statusOf(a, 'node-c'), 'left');
  });
});
