// The Raft driver end to end in one process: real cores and SQLite storage over
// the memory network. Waits poll with generous deadlines; nothing asserts on
// timing. Run with SEED=<n> to replay a seed (printed in every failure).
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Invalid, NotLeader } from '../../../src/agent/api/errors.ts';
import { silentLogger } from '../../../src/agent/logger.ts';
import type { Member as MeshMember, MemberListener, MemberStatus } from '../../../src/net/membership.ts';
import { UnknownRequestKind } from '../../../src/consensus/raft-node.ts';
import type { Message, NodeId } from '../../../src/consensus/raft-types.ts';
import { createVoterManager, type VoterManager } from '../../../src/consensus/voter-manager.ts';
import { waitFor } from '../../support/wait-for.ts';
import { createCluster, SEED, set, type Cluster, type Member } from './raft-driver-harness.ts';

const WAIT = 15_000;
let cluster: Cluster | undefined;
const managers: VoterManager[] = [];
afterEach(async () => {
  for (const m of managers.splice(0)) await m.stop();
  await cluster?.cleanup();
  cluster = undefined;
});

async function make(ids: NodeId[], opts: Parameters<typeof createCluster>[1] = {}): Promise<Cluster> {
  cluster = await createCluster(ids, opts);
  return cluster;
}

async function leaderOf(c: Cluster, among?: Member[]): Promise<Member> {
  return waitFor(
    () => {
      const pool = among ?? c.running();
      const l = pool.filter((m) => m.node.isLeading());
      if (l.length !== 1) return undefined;
      // Every member of the pool follows it.
      return pool.every((m) => m.node.leader() === l[0]!.id) ? l[0] : undefined;
    },
    `one leader (seed ${SEED})`,
    WAIT,
    () => c.describe(),
  );
}

const has = (m: Member, k: string, v: string) => m.sm.data.get(k) === v;

async function appliedEverywhere(c: Cluster, k: string, v: string, members = c.running()): Promise<void> {
  await waitFor(() => members.every((m) => has(m, k, v)), `${k}=${v} applied everywhere (seed ${SEED})`, WAIT, () => c.describe());
}

for (const size of [3, 5]) {
  const ids = ['n1', 'n2', 'n3', 'n4', 'n5'].slice(0, size);

  describe(`raft driver, ${size} voters`, () => {
    it('elects one leader that every member follows', async () => {
      const c = await make(ids);
      const l = await leaderOf(c);
      assert.ok(ids.includes(l.id));
      const st = l.node.status();
      assert.equal(st.role, 'leader');
      assert.ok(st.quorum && st.inGroup);
      assert.ok(l.node.term() >= 1);
      for (const m of c.running()) if (m !== l) assert.equal(m.node.isLeading(), false, `${m.id} does not lead`);
      await waitFor(() => c.running().every((m) => m.node.status().quorum), `every member sees a quorum (seed ${SEED})`, WAIT, () => c.describe());
    });

    it('forwards a proposal from a follower and applies it everywhere', async () => {
      const c = await make(ids);
      const l = await leaderOf(c);
      const follower = c.running().find((m) => m !== l)!;
      const result = (await follower.node.propose(set('color', 'blue'), { timeoutMs: WAIT })) as { prev: unknown; index: number };
      assert.equal(result.prev, null);
      assert.ok(result.index > 0);
      await appliedEverywhere(c, 'color', 'blue');
      // The proposer got the result of its own command: a second write sees the first.
      const again = (await follower.node.propose(set('color', 'red'), { timeoutMs: WAIT })) as { prev: unknown; index: number };
      assert.equal(again.prev, 'blue');
      assert.ok(again.index > result.index);
    });

    it('read() after a write sees it on every member', async () => {
      const c = await make(ids);
      const l = await leaderOf(c);
      const writer = c.running().find((m) => m !== l)!;
      for (let i = 0; i < 5; i++) {
        await writer.node.propose(set('x', String(i)), { timeoutMs: WAIT });
        // Once the write is acknowledged, a read anywhere must see it (or something newer).
        const seen = await Promise.all(c.running().map((m) => m.node.read(() => m.sm.data.get('x'), { timeoutMs: WAIT })));
        assert.deepEqual(seen, c.running().map(() => String(i)), `seed ${SEED}`);
      }
    });

    it('a partitioned leader stops leading before a new leader starts', async () => {
      const c = await make(ids);
      const old = await leaderOf(c);
      await old.node.propose(set('before', '1'), { timeoutMs: WAIT });
      const oldTerm = old.node.term();
      const fromSeq = c.events.length;
      c.net.isolate(old.id);
      const rest = c.running().filter((m) => m !== old);
      const next = await leaderOf(c, rest);
      assert.notEqual(next.id, old.id);
      assert.ok(next.node.term() > oldTerm);
      await waitFor(() => !old.node.isLeading(), `old leader stops leading (seed ${SEED})`, WAIT);
      const later = c.events.slice(fromSeq);
      const oldOff = later.find((e) => e.node === old.id && !e.leading);
      const nextOn = later.find((e) => e.node === next.id && e.leading);
      assert.ok(oldOff, `the old leader reported the loss (seed ${SEED}): ${JSON.stringify(later)}`);
      assert.ok(nextOn, `the new leader reported leading (seed ${SEED}): ${JSON.stringify(later)}`);
      assert.ok(oldOff.seq < nextOn.seq, `old leader off (#${oldOff.seq}) before new leader on (#${nextOn.seq}), seed ${SEED}`);
      assert.equal(oldOff.term, oldTerm);
      // The majority goes on; the old leader cannot commit alone.
      await next.node.propose(set('after', '1'), { timeoutMs: WAIT });
      await assert.rejects(old.node.propose(set('lost', '1'), { timeoutMs: 600 }), NotLeader);
      c.net.heal();
      await appliedEverywhere(c, 'after', '1');
      assert.equal(old.sm.data.get('lost'), undefined, 'the isolated write never committed');
    });
  });
}

describe('raft driver, recovery and membership', () => {
  it('a restarted member recovers its state from its own disk', async () => {
    const c = await make(['a', 'b', 'c']);
    const l = await leaderOf(c);
    for (let i = 0; i < 5; i++) await l.node.propose(set(`k${i}`, `v${i}`), { timeoutMs: WAIT });
    await appliedEverywhere(c, 'k4', 'v4');
    const f = c.running().find((m) => m !== l)!;
    const termBefore = f.node.term();
    await c.stop(f.id);
    // Cut off from everyone, the restarted member can only replay its own log.
    c.net.isolate(f.id);
    const again = await c.restart(f.id);
    assert.equal(again.sm.data.size, 0, 'a fresh state machine');
    await waitFor(() => again.sm.data.get('k4') === 'v4', `replayed from disk (seed ${SEED})`, WAIT, () => c.describe());
    for (let i = 0; i < 5; i++) assert.equal(again.sm.data.get(`k${i}`), `v${i}`);
    assert.ok(again.node.term() >= termBefore, 'the term survives the restart');
    c.net.heal();
    await l.node.propose(set('k5', 'v5'), { timeoutMs: WAIT });
    await appliedEverywhere(c, 'k5', 'v5');
  });

  it('compacts the log, and a far-behind member catches up from a snapshot', async () => {
    const c = await make(['a', 'b', 'c'], { extra: { snapshotEvery: 10 } });
    const l = await leaderOf(c);
    const behind = c.running().find((m) => m !== l)!;
    const snapshotsToBehind: Message[] = [];
    c.net.observe((m) => {
      if (m.type === 'snapshot' && m.to === behind.id) snapshotsToBehind.push(m);
    });
    c.net.isolate(behind.id);
    await Promise.all(Array.from({ length: 45 }, (_, i) => l.node.propose(set(`k${i}`, `v${i}`), { timeoutMs: WAIT })));
    const stored = l.storage.load();
    assert.ok(stored.snapshot && stored.snapshot.index >= 40, `the leader compacted: snapshot at ${stored.snapshot?.index}`);
    assert.ok(stored.entries.length === 0 || stored.entries[0]!.index === stored.snapshot.index + 1);
    assert.deepEqual(new Map(JSON.parse(stored.snapshot.data) as [string, string][]).get('k44'), 'v44');
    assert.equal(behind.sm.data.size, 0);
    c.net.heal();
    await waitFor(() => behind.sm.data.size === 45, `the far-behind member caught up (seed ${SEED})`, WAIT, () => c.describe());
    assert.ok(snapshotsToBehind.length > 0, 'it was sent a snapshot');
    assert.ok(behind.sm.restores >= 1, 'it restored the snapshot');
    assert.ok((behind.storage.load().snapshot?.index ?? 0) >= 10, 'and stored it');
    // Replication goes on normally afterwards.
    await l.node.propose(set('next', '1'), { timeoutMs: WAIT });
    await appliedEverywhere(c, 'next', '1');
  });

  it('adds a learner with an empty configuration, promotes it, and a member restarted with an old configuration catches up', async () => {
    const c = await make(['a', 'b', 'c']);
    const l = await leaderOf(c);
    await l.node.propose(set('early', '1'), { timeoutMs: WAIT });
    const offline = c.running().find((m) => m !== l)!;
    await c.stop(offline.id);
    const d = await c.add('d', { voters: [], learners: [] });
    assert.equal(d.node.status().inGroup, false);
    await assert.rejects(d.node.read(() => 1), NotLeader, 'an outsider serves no reads');
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(d.node.term(), 0, 'an outsider never campaigns');

    await l.node.changeMembership({ type: 'add-learner', node: 'd' });
    await waitFor(() => has(d, 'early', '1') && d.node.status().inGroup, `the learner caught up (seed ${SEED})`, WAIT, () => c.describe());
    assert.deepEqual(d.node.status().conf.learners, ['d']);
    assert.equal(d.node.leader(), l.id);
    // A learner can forward proposals and serve reads.
    await d.node.propose(set('from-learner', '1'), { timeoutMs: WAIT });
    assert.equal(await d.node.read(() => d.sm.data.get('from-learner'), { timeoutMs: WAIT }), '1');

    // From a follower, the change is forwarded to the leader.
    const follower = c.running().find((m) => m !== l && m !== d)!;
    await follower.node.changeMembership({ type: 'promote', node: 'd' });
    await waitFor(
      () => c.running().every((m) => m.node.status().conf.voters.includes('d')),
      `d is a voter everywhere (seed ${SEED})`,
      WAIT,
      () => c.describe(),
    );
    // The configuration as of the applied index follows once the change commits.
    await waitFor(() => d.node.appliedConf().voters.slice().sort().join() === 'a,b,c,d', `d applied its promotion (seed ${SEED})`, WAIT, () => c.describe());
    await l.node.propose(set('late', '1'), { timeoutMs: WAIT });

    const back = await c.restart(offline.id);
    await waitFor(
      () => back.node.status().conf.voters.includes('d') && has(back, 'late', '1'),
      `the restarted member learned the new configuration (seed ${SEED})`,
      WAIT,
      () => c.describe(),
    );
  });

  it('a joiner added after compaction learns the state and the configuration from a snapshot', async () => {
    const c = await make(['a', 'b', 'c'], { extra: { snapshotEvery: 10 } });
    const l = await leaderOf(c);
    await Promise.all(Array.from({ length: 25 }, (_, i) => l.node.propose(set(`k${i}`, `v${i}`), { timeoutMs: WAIT })));
    assert.ok((l.storage.load().snapshot?.index ?? 0) >= 20, 'the leader compacted');
    const d = await c.add('d', { voters: [], learners: [] });
    await l.node.changeMembership({ type: 'add-learner', node: 'd' });
    await waitFor(() => d.sm.data.size === 25, `the joiner caught up (seed ${SEED})`, WAIT, () => c.describe());
    assert.ok(d.sm.restores >= 1, 'from a snapshot');
    const conf = d.node.status().conf;
    assert.deepEqual({ voters: conf.voters.slice().sort(), learners: conf.learners }, { voters: ['a', 'b', 'c'], learners: ['d'] });
    assert.deepEqual(d.node.appliedConf().voters.slice().sort(), ['a', 'b', 'c']);
  });

  it('rejects with NotLeader when the quorum is lost', async () => {
    const c = await make(['a', 'b', 'c']);
    const l = await leaderOf(c);
    const others = c.running().filter((m) => m !== l);
    await c.stop(others[0]!.id);
    await c.stop(others[1]!.id);
    await assert.rejects(l.node.propose(set('k', 'v'), { timeoutMs: 800 }), (err: unknown) => {
      assert.ok(err instanceof NotLeader);
      assert.match(err.message, /no Raft leader \(quorum lost\?\)/);
      return true;
    });
    await assert.rejects(l.node.read(() => 1, { timeoutMs: 800 }), NotLeader);
    await waitFor(() => !l.node.isLeading(), 'the lone leader lost its lease', WAIT);
  });

  it('refuses an invalid membership change, also when forwarded, and stop() settles what is pending', async () => {
    const c = await make(['a', 'b', 'c']);
    const l = await leaderOf(c);
    const follower = c.running().find((m) => m !== l)!;
    await assert.rejects(l.node.changeMembership({ type: 'promote', node: 'zz' }), (e: unknown) => e instanceof Invalid && /not a learner/.test(e.message));
    await assert.rejects(follower.node.changeMembership({ type: 'add-learner', node: l.id }), (e: unknown) => e instanceof Invalid && /already a voter/.test(e.message));
    await assert.rejects(l.node.changeMembership({ type: 'demote', node: 'b' } as never), (e: unknown) => e instanceof Invalid && /change\.type/.test(e.message));
    for (const m of c.running()) if (m !== l) await c.stop(m.id);
    const pending = l.node.propose(set('k', 'v'), { timeoutMs: 60_000 });
    const read = l.node.read(() => 1, { timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 100));
    await c.stop(l.id);
    await assert.rejects(pending, (e: unknown) => e instanceof NotLeader && /stopped/.test(e.message));
    await assert.rejects(read, (e: unknown) => e instanceof NotLeader && /stopped/.test(e.message));
    assert.equal(l.node.isLeading(), false);
    assert.deepEqual(c.events.filter((e) => e.node === l.id).at(-1)?.leading, false, 'stopping reports the end of leadership');
  });

  it('shares its transport with handlers of other request kinds', async () => {
    const c = await make(['a', 'b', 'c']);
    const l = await leaderOf(c);
    const other = c.running().find((m) => m !== l)!;
    const client = c.net.transport('client');
    await assert.rejects(client.request(other.id, 'secret', 'x', { timeoutMs: 2_000 }), /no handler for raft request kind "secret"/);
    other.transport.onRequest(async (from, kind, body) => {
      if (kind !== 'secret') throw new UnknownRequestKind(kind);
      return `sealed:${body}:for:${from}`;
    });
    assert.equal(await client.request(other.id, 'secret', 'x', { timeoutMs: 2_000 }), 'sealed:x:for:client');
    // The driver still serves its own kinds on that member: a follower answers a proposal with not-leader.
    const answer = JSON.parse(await client.request(other.id, 'propose', JSON.stringify({ command: set('z', '1'), timeoutMs: 2_000 }), { timeoutMs: 3_000 }));
    assert.deepEqual(answer, { ok: false, reason: 'not-leader', leader: l.id });
    const onLeader = JSON.parse(await client.request(l.id, 'propose', JSON.stringify({ command: set('z', '1'), timeoutMs: 2_000 }), { timeoutMs: 3_000 }));
    assert.equal(onLeader.ok, true);
    await appliedEverywhere(c, 'z', '1');
  });
});

/** A membership the tests control: members and their statuses. */
function fakeMembership() {
  let list: MeshMember[] = [];
  const listeners = new Set<MemberListener>();
  const entry = (nodeName: string, status: MemberStatus): MeshMember => ({
    nodeName,
    peerId: `peer-${nodeName}`,
    addrs: [],
    lastSeen: Date.now(),
    stateDigest: { changes: 0 },
    status,
    self: false,
  });
  return {
    members: () => list,
    onChange(l: MemberListener) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    set(statuses: Record<string, MemberStatus>) {
      const prev = new Map(list.map((m) => [m.nodeName, m]));
      list = Object.entries(statuses).map(([n, s]) => {
        const old = prev.get(n);
        // A member that stays dead keeps the time it was last seen.
        return old && old.status === s && s === 'dead' ? old : entry(n, s);
      });
      for (const m of list) for (const l of listeners) l(m, prev.get(m.nodeName)?.status);
    },
  };
}

describe('raft driver with the voter manager', () => {
  function manage(c: Cluster, membership: ReturnType<typeof fakeMembership>, id: NodeId): void {
    const vm = createVoterManager({
      raft: c.member(id).node,
      membership,
      logger: silentLogger(),
      voterDownTimeoutMs: 300,
      intervalMs: 50,
    });
    managers.push(vm);
    vm.start();
  }

  it('replaces a dead voter with a healthy agent', async () => {
    const c = await make(['a', 'b', 'c', 'd'], { voters: ['a', 'b', 'c'] });
    const membership = fakeMembership();
    membership.set({ a: 'alive', b: 'alive', c: 'alive', d: 'alive' });
    for (const id of ['a', 'b', 'c', 'd']) manage(c, membership, id);
    const l = await leaderOf(c, ['a', 'b', 'c'].map((id) => c.member(id)));
    await l.node.propose(set('k', '1'), { timeoutMs: WAIT });
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(l.node.status().conf.voters.slice().sort(), ['a', 'b', 'c'], 'a full, healthy group is left alone');
    assert.equal(c.member('d').node.status().inGroup, false);

    const victim = ['a', 'b', 'c'].find((id) => id !== l.id)!;
    await c.stop(victim);
    membership.set({ a: 'alive', b: 'alive', c: 'alive', d: 'alive', [victim]: 'dead' });
    const want = ['a', 'b', 'c', 'd'].filter((id) => id !== victim);
    await waitFor(
      () => c.running().every((m) => JSON.stringify(m.node.status().conf.voters.slice().sort()) === JSON.stringify(want)),
      `the dead voter ${victim} was replaced by d (seed ${SEED})`,
      WAIT,
      () => c.describe(),
    );
    assert.deepEqual(c.member('d').node.status().conf.learners, []);
    assert.ok(has(c.member('d'), 'k', '1'));
    await c.member('d').node.propose(set('k', '2'), { timeoutMs: WAIT });
    await appliedEverywhere(c, 'k', '2');
  });

  it('grows a one-voter group to three as agents join', async () => {
    const c = await make(['a'], { voters: ['a'] });
    const membership = fakeMembership();
    membership.set({ a: 'alive' });
    manage(c, membership, 'a');
    const a = await leaderOf(c);
    await a.node.propose(set('k', '1'), { timeoutMs: WAIT });

    await c.add('b', { voters: [], learners: [] });
    manage(c, membership, 'b');
    membership.set({ a: 'alive', b: 'alive' });
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(a.node.status().conf, { voters: ['a'], learners: [] }, 'two agents: still one voter');

    await c.add('c', { voters: [], learners: [] });
    manage(c, membership, 'c');
    membership.set({ a: 'alive', b: 'alive', c: 'alive' });
    await waitFor(
      () => c.running().every((m) => m.node.status().conf.voters.slice().sort().join() === 'a,b,c'),
      `three voters everywhere (seed ${SEED})`,
      WAIT,
      () => c.describe(),
    );
    await c.member('c').node.propose(set('k', '2'), { timeoutMs: WAIT });
    await appliedEverywhere(c, 'k', '2');
    // The grown group survives the loss of its founder.
    await c.stop('a');
    const next = await leaderOf(c);
    assert.notEqual(next.id, 'a');
    await next.node.propose(set('k', '3'), { timeoutMs: WAIT });
    await appliedEverywhere(c, 'k', '3');
  });
});
