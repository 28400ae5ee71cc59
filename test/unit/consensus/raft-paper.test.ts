// The Raft core against the rules of the Raft paper and dissertation, one rule
// per test, on a hand-driven network (raft-test-network.ts): nothing moves
// unless the test ticks a node or delivers messages.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Invalid } from '../../../src/agent/api/errors.ts';
import { createRaftCore } from '../../../src/consensus/raft-core.ts';
import type { ConfState, Entry, Message, NodeId, RaftCore, RaftStart, Ready } from '../../../src/consensus/raft-types.ts';
import { createTestNet, messagesOf, snapshotData, type TestNet } from './raft-test-network.ts';

const E = 10;

/** A core built directly from a start state (for tests that hand-craft messages). */
function makeCore(id: NodeId, start: Partial<RaftStart> & { voters?: NodeId[] } = {}, random = 0.99): RaftCore {
  const initialConf: ConfState = start.initialConf ?? { voters: start.voters ?? ['a', 'b', 'c'], learners: [] };
  return createRaftCore(
    { id, electionTicks: E, heartbeatTicks: 1, random: () => random },
    { hardState: start.hardState ?? { term: 0, vote: '', commit: 0 }, entries: start.entries ?? [], initialConf, ...(start.snapshot ? { snapshot: start.snapshot } : {}) },
  );
}

/** Drains a core's Readies (acknowledging each) and returns them. */
function drain(core: RaftCore): Ready[] {
  const out: Ready[] = [];
  while (core.hasReady()) {
    out.push(core.ready());
    core.advance();
  }
  return out;
}
const msgsOf = (readies: Ready[]): Message[] => readies.flatMap((r) => r.messages);

const normal = (index: number, term: number, data = `e${index}`): Entry => ({ index, term, type: 'normal', data });
const vote = (from: NodeId, to: NodeId, term: number, logIndex: number, logTerm: number, type: 'vote' | 'pre-vote' = 'vote'): Message => ({ type, from, to, term, logIndex, logTerm });

/** Three voters a, b, c with a elected in term 1 (index 1 is its empty entry). */
function threeWithLeader(opts: Partial<Parameters<typeof createTestNet>[0]> = {}): TestNet {
  const net = createTestNet({ voters: ['a', 'b', 'c'], ...opts });
  net.elect('a');
  return net;
}

/** Ticks every node but `except` n times, stabilizing after each tick. */
function tickOthers(net: TestNet, except: NodeId[], n: number): void {
  for (let i = 0; i < n; i++) {
    for (const x of net.nodes.values()) if (!except.includes(x.id)) x.core.tick();
    net.stabilize();
  }
}

describe('§5.2 leader election', () => {
  it('a follower that hears from no leader for its election timeout campaigns and wins', () => {
    const net = createTestNet({ voters: ['a', 'b', 'c'], random: (id) => () => (id === 'a' ? 0 : 0.5) });
    net.tickAll(E - 1);
    assert.equal(messagesOf(net.sent, 'pre-vote').length, 0, 'nobody campaigns before electionTicks');
    net.tickAll(1);
    assert.equal(net.leaderOf(), 'a');
    assert.equal(net.core('a').status().term, 1);
    for (const id of ['b', 'c']) assert.equal(net.core(id).status().leader, 'a');
  });

  it('election timeouts are randomized within [electionTicks, 2*electionTicks)', () => {
    for (const r of [0, 0.25, 0.5, 0.999]) {
      const core = makeCore('a', {}, r);
      let ticks = 0;
      while (msgsOf(drain(core)).length === 0 && ticks < 3 * E) {
        core.tick();
        ticks++;
      }
      assert.equal(ticks, E + Math.floor(r * E), `random ${r}`);
      assert.ok(ticks >= E && ticks < 2 * E);
    }
  });

  it('a node grants at most one vote per term, first come first served', () => {
    const c = makeCore('c');
    c.step(vote('a', 'c', 1, 0, 0));
    c.step(vote('b', 'c', 1, 0, 0));
    const sent = msgsOf(drain(c));
    assert.deepEqual(
      sent.map((m) => [m.type, m.to, m.reject]),
      [
        ['vote-resp', 'a', false],
        ['vote-resp', 'b', true],
      ],
    );
    assert.equal(c.status().term, 1);
  });

  it('the vote is persisted in the same Ready as the vote response', () => {
    const c = makeCore('c');
    c.step(vote('a', 'c', 1, 0, 0));
    const [rd] = drain(c);
    assert.ok(rd);
    assert.deepEqual(rd.hardState, { term: 1, vote: 'a', commit: 0 });
    assert.equal(messagesOf(rd.messages, 'vote-resp', 'a').length, 1);
  });

  it('a candidate returns to follower when a leader of its term appends to it', () => {
    const b = makeCore('b');
    b.campaign();
    b.step({ type: 'pre-vote-resp', from: 'c', to: 'b', term: 1, reject: false });
    assert.equal(b.status().role, 'candidate');
    assert.equal(b.status().term, 1);
    b.step({ type: 'append', from: 'a', to: 'b', term: 1, logIndex: 0, logTerm: 0, entries: [], commit: 0 });
    assert.equal(b.status().role, 'follower');
    assert.equal(b.status().leader, 'a');
    assert.equal(b.status().term, 1);
  });

  it('a split vote times out and an election in a higher term succeeds', () => {
    const net = createTestNet({ voters: ['a', 'b', 'c', 'd'] });
    net.core('a').campaign();
    net.core('b').campaign();
    net.collect();
    net.deliver(net.take((m) => m.type === 'pre-vote'));
    net.collect();
    net.deliver(net.take((m) => m.type === 'pre-vote-resp'));
    net.collect();
    assert.equal(net.core('a').status().role, 'candidate');
    assert.equal(net.core('b').status().role, 'candidate');
    // c hears a first, d hears b first: 2 votes each, quorum is 3.
    net.deliver(net.take((m) => m.type === 'vote' && ((m.from === 'a' && m.to === 'c') || (m.from === 'b' && m.to === 'd'))));
    net.stabilize();
    assert.equal(net.leaderOf(), undefined, 'nobody wins a split vote');
    assert.equal(net.core('a').status().term, 1);
    for (let i = 0; i < 3 * E && net.leaderOf() === undefined; i++) net.tickAll(1);
    const leader = net.leaderOf();
    assert.ok(leader, 'a later election succeeds');
    assert.equal(net.core(leader).status().term, 2);
  });

  it('a leader steps down when it sees a higher term', () => {
    const net = threeWithLeader();
    net.core('a').step({ type: 'append-resp', from: 'b', to: 'a', term: 5, hint: 0 });
    assert.equal(net.core('a').status().role, 'follower');
    assert.equal(net.core('a').status().term, 5);
  });

  it('a single-voter group elects itself and commits alone', () => {
    const net = createTestNet({ voters: ['solo'] });
    net.tickAll(2 * E);
    assert.equal(net.leaderOf(), 'solo');
    const index = net.propose('solo', 'x');
    net.collect();
    assert.equal(net.core('solo').status().commit, index);
    assert.deepEqual(net.data('solo'), ['x']);
    assert.equal(net.sent.length, 0, 'no messages in a group of one');
  });
});

describe('§5.3 log replication', () => {
  it('a leader commits an entry once a quorum holds it; followers apply it once they learn the commit', () => {
    const net = threeWithLeader();
    net.cut('a', 'c');
    const index = net.propose('a', 'x');
    net.stabilize();
    assert.equal(net.core('a').status().commit, index);
    assert.deepEqual(net.data('a'), ['x']);
    assert.deepEqual(net.data('b'), ['x']);
    assert.deepEqual(net.data('c'), [], 'c never got it');
    net.heal();
    net.tickAll(1);
    assert.deepEqual(net.data('c'), ['x']);
  });

  it('a follower rejects an append whose previous entry does not match', () => {
    const b = makeCore('b', { hardState: { term: 1, vote: '', commit: 1 }, entries: [{ index: 1, term: 1, type: 'empty' }] });
    b.step({ type: 'append', from: 'a', to: 'b', term: 1, logIndex: 5, logTerm: 1, entries: [normal(6, 1)], commit: 5 });
    const [resp] = messagesOf(msgsOf(drain(b)), 'append-resp');
    assert.ok(resp);
    assert.equal(resp.reject, true);
    assert.equal(resp.logIndex, 5, 'echoes the rejected index');
    assert.equal(resp.hint, 1, "hints at the follower's last index");
    assert.equal(b.status().lastIndex, 1);
  });

  it('a delayed shorter append does not cut off entries the follower already has', () => {
    const b = makeCore('b');
    const full: Message = { type: 'append', from: 'a', to: 'b', term: 1, logIndex: 0, logTerm: 0, entries: [normal(1, 1), normal(2, 1), normal(3, 1)], commit: 0 };
    const short: Message = { ...full, entries: [normal(1, 1)] };
    b.step(full);
    b.step(short);
    assert.equal(b.status().lastIndex, 3);
    const resps = messagesOf(msgsOf(drain(b)), 'append-resp');
    assert.deepEqual(
      resps.map((m) => m.hint),
      [3, 1],
    );
  });

  it('the leader repairs a divergent follower log, replacing its uncommitted entries', () => {
    const net = threeWithLeader();
    net.propose('a', 'p1');
    net.stabilize();
    net.isolate('a');
    net.propose('a', 'lost1');
    net.propose('a', 'lost2');
    net.collect();
    tickOthers(net, ['a'], 2 * E + 5);
    const leader = net.leaderOf(['b', 'c']);
    assert.ok(leader === 'b' || leader === 'c', 'b or c took over');
    net.propose(leader, 'won');
    net.stabilize();
    net.heal();
    net.tickAll(2);
    assert.deepEqual(net.data('a'), ['p1', 'won']);
    const aDisk = net.node('a').disk.entries.map((e) => [e.index, e.term]);
    const lDisk = net.node(leader).disk.entries.map((e) => [e.index, e.term]);
    assert.deepEqual(aDisk, lDisk);
    // The Ready that repaired a's log replaced it from the first conflicting index.
    const repair = net.node('a').readies.find((r) => r.entries.length > 0 && r.entries[0]!.term > 1);
    assert.ok(repair);
    assert.equal(repair.entries[0]!.index, 3);
  });

  it('fast backup: a follower with a long conflicting tail is repaired in one rejection, not one per entry', () => {
    const net = threeWithLeader();
    net.propose('a', 'p1');
    net.stabilize();
    // a, cut off, piles up 50 entries of term 1 that never commit.
    net.isolate('a');
    for (let i = 0; i < 50; i++) net.propose('a', `stale${i}`);
    net.collect();
    tickOthers(net, ['a'], 2 * E + 5);
    const first = net.leaderOf(['b', 'c']);
    assert.ok(first);
    for (let i = 0; i < 20; i++) net.propose(first, `new${i}`);
    net.stabilize();
    // Leadership moves on, so the leader that meets a again starts probing at its own last index.
    const second = first === 'b' ? 'c' : 'b';
    net.core(first).transferLeadership(second);
    net.stabilize();
    assert.equal(net.leaderOf(['b', 'c']), second);
    const before = net.sent.length;
    net.heal();
    net.tickAll(2);
    const rejections = net.sent.slice(before).filter((m) => m.type === 'append-resp' && m.from === 'a' && m.reject);
    assert.ok(rejections.length >= 1 && rejections.length <= 2, `${rejections.length} rejections`);
    assert.deepEqual(net.data('a'), ['p1', ...Array.from({ length: 20 }, (_, i) => `new${i}`)]);
  });

  it('an append carries at most maxEntriesPerMessage entries', () => {
    const net = threeWithLeader({ maxEntriesPerMessage: 3 });
    for (let i = 0; i < 10; i++) net.propose('a', `x${i}`);
    net.stabilize();
    const appends = messagesOf(net.sent, 'append');
    assert.ok(appends.length > 0);
    for (const m of appends) assert.ok((m.entries ?? []).length <= 3, `an append with ${m.entries?.length} entries`);
    assert.equal(net.data('c').length, 10);
  });

  it('heartbeats go out every heartbeatTicks and carry min(follower match, leader commit)', () => {
    const net = threeWithLeader({ heartbeatTicks: 2 });
    net.cut('a', 'c');
    const index = net.propose('a', 'x');
    net.stabilize();
    assert.equal(net.core('a').status().commit, index);
    net.tick('a');
    net.collect();
    assert.equal(messagesOf(net.take(), 'heartbeat').length, 0, 'not yet');
    net.tick('a');
    net.collect();
    const hbs = messagesOf(net.take(), 'heartbeat');
    assert.equal(hbs.length, 2);
    assert.equal(hbs.find((m) => m.to === 'b')?.commit, index);
    assert.equal(hbs.find((m) => m.to === 'c')?.commit, 1, "c's match is 1: it must not commit what it may not have");
  });

  it('a proposal on a follower is refused and names the leader', () => {
    const net = threeWithLeader();
    assert.deepEqual(net.core('b').propose('x'), { ok: false, reason: 'not-leader', leader: 'a' });
  });

  it('a leader keeps many proposals in order and batches them per follower', () => {
    const net = threeWithLeader();
    net.stabilize();
    const before = net.sent.length;
    for (let i = 0; i < 2000; i++) net.propose('a', `p${i}`);
    net.stabilize();
    assert.equal(net.data('b').length, 2000);
    assert.deepEqual(net.data('c'), net.data('a'));
    const appends = net.sent.slice(before).filter((m) => m.type === 'append');
    assert.ok(appends.length < 100, `${appends.length} appends for 2000 proposals`);
  });
});

describe('§5.4 safety', () => {
  // A core that has not heard from a leader for electionTicks, so it answers votes.
  function voterWithLog(entries: Entry[], term: number): RaftCore {
    const core = makeCore('b', { hardState: { term, vote: '', commit: 0 }, entries });
    for (let i = 0; i < E; i++) core.tick();
    drain(core);
    return core;
  }

  it('a follower rejects a vote for a candidate with a shorter log', () => {
    const b = voterWithLog([normal(1, 1), normal(2, 1)], 1);
    b.step(vote('c', 'b', 2, 1, 1));
    const [resp] = messagesOf(msgsOf(drain(b)), 'vote-resp');
    assert.equal(resp?.reject, true);
    assert.equal(b.status().term, 2, 'the term still moves on');
    const b2 = voterWithLog([normal(1, 1), normal(2, 1)], 1);
    b2.step(vote('c', 'b', 2, 2, 1));
    assert.equal(messagesOf(msgsOf(drain(b2)), 'vote-resp')[0]?.reject, false, 'an equally long log gets the vote');
  });

  it('a follower rejects a candidate whose last term is older, however long its log', () => {
    const b = voterWithLog([normal(1, 1), normal(2, 2)], 2);
    b.step(vote('c', 'b', 3, 100, 1));
    assert.equal(messagesOf(msgsOf(drain(b)), 'vote-resp')[0]?.reject, true);
  });

  it('a pre-vote applies the same up-to-date check', () => {
    const b = voterWithLog([normal(1, 1), normal(2, 1)], 1);
    b.step(vote('c', 'b', 2, 1, 1, 'pre-vote'));
    b.step(vote('d', 'b', 2, 2, 1, 'pre-vote'));
    const resps = messagesOf(msgsOf(drain(b)), 'pre-vote-resp');
    assert.deepEqual(
      resps.map((m) => [m.to, m.reject]),
      [
        ['c', true],
        ['d', false],
      ],
    );
  });

  it('a leader does not commit an entry from an earlier term by counting replicas (Figure 8)', () => {
    // a holds index 2 from term 1, uncommitted, and wins term 3.
    const a = makeCore('a', { hardState: { term: 2, vote: '', commit: 1 }, entries: [{ index: 1, term: 1, type: 'empty' }, normal(2, 1, 'old')] });
    for (let i = 0; i < E; i++) a.tick(); // a restarted node waits out a possible leader's lease first
    a.campaign();
    a.step({ type: 'pre-vote-resp', from: 'b', to: 'a', term: 3, reject: false });
    a.step({ type: 'vote-resp', from: 'b', to: 'a', term: 3, reject: false });
    assert.equal(a.status().role, 'leader');
    assert.equal(a.status().lastIndex, 3, 'the new leader appended an entry of its term');
    drain(a);
    // b holds index 2 (so a quorum has it), but not yet index 3.
    a.step({ type: 'append-resp', from: 'b', to: 'a', term: 3, hint: 2 });
    assert.equal(a.status().commit, 1, 'index 2 is on a quorum but from term 1: not committed');
    a.step({ type: 'append-resp', from: 'b', to: 'a', term: 3, hint: 3 });
    assert.equal(a.status().commit, 3, 'committing the term-3 entry commits index 2 with it');
    const committed = drain(a).flatMap((r) => r.committedEntries.map((e) => e.index));
    assert.deepEqual(committed, [2, 3]);
  });

  it("a stale leader's append is rejected and the stale leader steps down", () => {
    const net = threeWithLeader();
    net.isolate('a');
    net.propose('a', 'stale');
    net.collect();
    const staleAppends = net.take((m) => m.from === 'a');
    tickOthers(net, ['a'], 2 * E + 5);
    const leader = net.leaderOf(['b', 'c']);
    assert.ok(leader);
    const newTerm = net.core(leader).status().term;
    assert.ok(newTerm > 1);
    net.heal();
    net.deliver(staleAppends.filter((m) => m.type === 'append'));
    net.collect();
    const answers = net.take((m) => m.to === 'a' && m.type === 'append-resp');
    assert.ok(answers.length > 0 && answers.every((m) => m.reject === true && m.term === newTerm));
    for (const id of ['b', 'c']) assert.ok(!net.data(id).includes('stale'));
    assert.ok(!net.node('b').disk.entries.some((e) => e.type === 'normal' && e.data === 'stale'));
    net.deliver(answers);
    assert.equal(net.core('a').status().role, 'follower');
    assert.equal(net.core('a').status().term, newTerm);
  });

  it('a node missing a committed entry is never elected (leader completeness)', () => {
    const net = threeWithLeader({ random: (id) => () => (id === 'c' ? 0 : 0.6) });
    net.cut('a', 'c');
    net.propose('a', 'x');
    net.stabilize();
    assert.deepEqual(net.data('b'), ['x']);
    net.isolate('a');
    tickOthers(net, ['a'], 4 * E);
    for (const rd of net.node('c').readies) assert.notEqual(rd.softState?.role, 'leader', 'c lacks a committed entry');
    assert.equal(net.leaderOf() === 'a' ? net.core('b').status().leader : net.leaderOf(), 'b');
    net.tickAll(1);
    assert.deepEqual(net.data('c'), ['x']);
  });
});

describe('pre-vote and check-quorum', () => {
  it('a partitioned node that rejoins does not disrupt the leader', () => {
    const net = threeWithLeader();
    net.isolate('c');
    net.tickAll(5 * E);
    assert.ok(messagesOf(net.sent, 'pre-vote').some((m) => m.from === 'c'), 'c kept trying');
    assert.equal(net.core('c').status().term, 1, 'failed pre-votes never raise the term');
    net.heal();
    net.tickAll(E);
    assert.equal(net.leaderOf(), 'a');
    for (const id of ['a', 'b', 'c']) assert.equal(net.core(id).status().term, 1);
  });

  it('a pre-vote changes neither the term nor the vote of those who answer it', () => {
    const net = createTestNet({ voters: ['a', 'b', 'c'] });
    net.core('a').campaign();
    net.collect();
    net.deliver(net.take((m) => m.type === 'pre-vote' && m.to === 'b'));
    net.collect();
    const [grant] = net.take((m) => m.type === 'pre-vote-resp');
    assert.equal(grant?.reject, false);
    assert.equal(grant?.term, 1, 'the grant is for the term a would campaign in');
    assert.deepEqual(net.node('b').disk.hardState, { term: 0, vote: '', commit: 0 });
    assert.equal(net.core('a').status().term, 0, 'a pre-candidate keeps its term');
  });

  it('followers that heard from the leader within electionTicks ignore (pre-)votes, even from an up-to-date node', () => {
    const net = threeWithLeader({ random: () => () => 0.99 });
    // b stops hearing from a; c keeps hearing from it.
    net.cut('a', 'b');
    net.tickAll(E);
    const before = net.sent.length;
    net.core('b').campaign();
    net.collect();
    assert.equal(messagesOf(net.pending, 'pre-vote').length, 2, 'b is up to date and campaigns');
    net.stabilize();
    assert.equal(messagesOf(net.sent.slice(before), 'pre-vote-resp').length, 0, 'no answers');
    net.core('c').step(vote('b', 'c', 7, 100, 1));
    net.collect();
    assert.equal(net.pending.length, 0, 'a real vote in a higher term is ignored too');
    for (const id of ['a', 'b', 'c']) assert.equal(net.core(id).status().term, 1);
    assert.equal(net.core('a').status().role, 'leader');
  });

  it('a node that heard from the leader within electionTicks does not start an election itself', () => {
    const net = threeWithLeader();
    const before = net.sent.length;
    net.core('b').campaign();
    net.collect();
    assert.equal(net.sent.slice(before).filter((m) => m.from === 'b').length, 0);
    assert.equal(net.core('b').status().role, 'follower');
  });

  it('after electionTicks without a leader, followers answer pre-votes again', () => {
    const net = threeWithLeader({ random: () => () => 0.99 });
    net.isolate('a');
    tickOthers(net, ['a'], E - 1);
    net.tick('b', 1);
    net.core('b').campaign();
    net.stabilize();
    assert.equal(net.core('b').status().role, 'pre-candidate', 'c still sticks to a');
    tickOthers(net, ['a'], 1);
    net.core('b').campaign();
    net.stabilize();
    assert.equal(net.core('b').status().role, 'leader');
    assert.equal(net.core('b').status().term, 2);
  });

  it('a partitioned old leader steps down via check-quorum', () => {
    const net = threeWithLeader();
    net.tickAll(3);
    net.isolate('a');
    let ticks = 0;
    while (net.core('a').status().role === 'leader' && ticks < 3 * E) {
      net.tickAll(1);
      ticks++;
    }
    assert.equal(net.core('a').status().role, 'follower');
    assert.ok(ticks >= E - 3 && ticks <= 2 * E, `stepped down after ${ticks} ticks`);
    assert.equal(net.core('a').status().leader, undefined);
    assert.equal(net.core('a').propose('x').ok, false);
  });

  it('a leader that hears from a quorum keeps leading through check-quorum rounds', () => {
    const net = threeWithLeader();
    net.isolate('c');
    net.tickAll(5 * E);
    assert.equal(net.leaderOf(), 'a');
    assert.equal(net.core('a').status().term, 1);
  });
});

describe('§6 cluster membership changes', () => {
  it('a learner receives the log but does not count for the commit quorum', () => {
    const net = createTestNet({ voters: ['a', 'b'], learners: ['l'] });
    net.elect('a');
    net.cut('a', 'b');
    const index = net.propose('a', 'x');
    net.stabilize();
    assert.ok(net.node('l').disk.entries.some((e) => e.index === index), 'the learner has the entry');
    assert.equal(net.core('a').status().commit, index - 1, 'the learner ack does not commit it');
    net.heal();
    net.tickAll(1);
    assert.equal(net.core('a').status().commit, index);
    assert.deepEqual(net.data('l'), ['x']);
  });

  it('a learner never campaigns, and candidates only ask voters', () => {
    const net = createTestNet({ voters: ['a', 'b'], learners: ['l'] });
    net.isolate('a');
    net.tickAll(5 * E);
    assert.equal(net.sent.filter((m) => m.from === 'l').length, 0);
    assert.ok(messagesOf(net.sent, 'pre-vote').length > 0);
    assert.ok(net.sent.every((m) => m.type !== 'pre-vote' || m.to !== 'l'));
  });

  it('add-learner then promote: the new voter counts as soon as the promote entry is appended', () => {
    const net = createTestNet({ voters: ['a', 'b', 'c'], outsiders: ['d'] });
    net.elect('a');
    assert.ok(net.core('a').proposeConfChange({ type: 'add-learner', node: 'd' }).ok);
    net.stabilize();
    net.tickAll(1);
    assert.deepEqual(net.core('d').status().conf, { voters: ['a', 'b', 'c'], learners: ['d'] });
    assert.equal(net.core('d').status().commit, net.core('a').status().commit, 'the learner caught up');
    const promote = net.core('a').proposeConfChange({ type: 'promote', node: 'd' });
    assert.ok(promote.ok);
    assert.deepEqual(net.core('a').status().conf.voters, ['a', 'b', 'c', 'd'], 'in effect before it commits');
    assert.ok(net.core('a').status().commit < promote.index);
    net.stabilize();
    net.cut('a', 'b');
    net.cut('a', 'c');
    const x = net.propose('a', 'x');
    net.stabilize();
    assert.ok(net.core('a').status().commit < x, 'a and d are 2 of 4 voters: no quorum');
    net.heal();
    net.tickAll(1);
    assert.equal(net.core('a').status().commit, x);
    assert.ok(!net.sent.some((m) => m.from === 'd' && m.type === 'pre-vote'));
  });

  it('only one conf change may be uncommitted at a time', () => {
    const net = threeWithLeader({ outsiders: ['d', 'e'] });
    net.isolate('a');
    assert.ok(net.core('a').proposeConfChange({ type: 'add-learner', node: 'd' }).ok);
    assert.deepEqual(net.core('a').proposeConfChange({ type: 'add-learner', node: 'e' }), { ok: false, reason: 'conf-change-pending', leader: 'a' });
    assert.ok(net.core('a').propose('normal entries are still fine').ok);
    net.heal();
    net.tickAll(1);
    assert.ok(net.core('a').proposeConfChange({ type: 'add-learner', node: 'e' }).ok);
  });

  it('a new leader proposes no conf change before it commits an entry of its term', () => {
    const net = createTestNet({ voters: ['a', 'b', 'c'], outsiders: ['d'] });
    net.core('a').campaign();
    for (const type of ['pre-vote', 'pre-vote-resp', 'vote', 'vote-resp'] as const) {
      net.collect();
      net.deliver(net.take((m) => m.type === type));
    }
    assert.equal(net.core('a').status().role, 'leader');
    assert.equal(net.core('a').status().commit, 0);
    assert.deepEqual(net.core('a').proposeConfChange({ type: 'add-learner', node: 'd' }), { ok: false, reason: 'conf-change-pending', leader: 'a' });
    net.stabilize();
    assert.ok(net.core('a').proposeConfChange({ type: 'add-learner', node: 'd' }).ok);
  });

  it('a conf entry takes effect on a follower when appended, before it commits', () => {
    const net = threeWithLeader({ outsiders: ['d'] });
    net.cut('a', 'c');
    net.core('a').proposeConfChange({ type: 'add-learner', node: 'd' });
    net.collect();
    net.deliver(net.take((m) => m.type === 'append' && m.to === 'b'));
    net.collect();
    assert.deepEqual(net.core('b').status().conf.learners, ['d']);
    assert.ok(net.core('b').status().commit < net.core('b').status().lastIndex);
  });

  it('a conf entry is reverted when a new leader truncates it', () => {
    const net = threeWithLeader({ outsiders: ['d'] });
    net.isolate('a');
    net.core('a').proposeConfChange({ type: 'add-learner', node: 'd' });
    net.collect();
    assert.deepEqual(net.core('a').status().conf.learners, ['d']);
    tickOthers(net, ['a', 'd'], 2 * E + 5);
    const leader = net.leaderOf(['b', 'c']);
    assert.ok(leader);
    net.propose(leader, 'x');
    net.stabilize();
    net.heal();
    net.tickAll(2);
    assert.deepEqual(net.core('a').status().conf, { voters: ['a', 'b', 'c'], learners: [] });
    assert.deepEqual(net.data('a'), ['x']);
  });

  it('removing voters shrinks the quorum at once, so the rest can commit', () => {
    const net = createTestNet({ voters: ['a', 'b', 'c', 'd'] });
    net.elect('a');
    net.isolate('c');
    net.isolate('d');
    // Old quorum 3 of 4 is gone; the new configuration a, b, c needs 2 of 3.
    const r = net.core('a').proposeConfChange({ type: 'remove', node: 'd' });
    assert.ok(r.ok);
    net.stabilize();
    assert.equal(net.core('a').status().commit, r.index);
    const x = net.propose('a', 'x');
    net.stabilize();
    assert.equal(net.core('a').status().commit, x);
  });

  it('a removed node stops campaigning', () => {
    const net = threeWithLeader();
    const r = net.core('a').proposeConfChange({ type: 'remove', node: 'c' });
    assert.ok(r.ok);
    net.stabilize();
    assert.deepEqual(net.core('c').status().conf.voters, ['a', 'b']);
    const before = net.sent.length;
    net.isolate('c');
    net.tickAll(5 * E);
    assert.equal(net.sent.slice(before).filter((m) => m.from === 'c').length, 0);
    net.core('c').campaign();
    net.collect();
    assert.equal(net.core('c').status().role, 'follower');
  });

  it('a leader removed from the group leads until the removal commits, then steps down and hands over', () => {
    const net = threeWithLeader();
    net.cut('a', 'b');
    net.cut('a', 'c');
    const r = net.core('a').proposeConfChange({ type: 'remove', node: 'a' });
    assert.ok(r.ok);
    assert.equal(net.core('a').status().role, 'leader', 'leads while the removal is uncommitted');
    assert.deepEqual(net.core('a').status().conf.voters, ['b', 'c']);
    net.heal();
    net.stabilize();
    net.tickAll(1);
    assert.notEqual(net.core('a').status().role, 'leader');
    const leader = net.leaderOf();
    assert.ok(leader === 'b' || leader === 'c', 'timeout-now handed leadership over at once');
    assert.ok(messagesOf(net.sent, 'timeout-now').some((m) => m.from === 'a'));
    const before = net.sent.length;
    net.isolate('a');
    net.tickAll(5 * E);
    assert.equal(net.sent.slice(before).filter((m) => m.from === 'a').length, 0, 'the removed node never campaigns');
  });

  it('a leader whose own removal is pending holds no lease', () => {
    const net = threeWithLeader();
    net.tickAll(1);
    assert.equal(net.core('a').status().leaseValid, true);
    net.cut('a', 'b');
    net.cut('a', 'c');
    assert.ok(net.core('a').proposeConfChange({ type: 'remove', node: 'a' }).ok);
    assert.equal(net.core('a').status().role, 'leader');
    assert.equal(net.core('a').status().leaseValid, false);
  });

  it('invalid conf changes are refused with Invalid', () => {
    const net = threeWithLeader();
    assert.throws(() => net.core('a').proposeConfChange({ type: 'promote', node: 'b' }), Invalid);
    assert.throws(() => net.core('a').proposeConfChange({ type: 'add-learner', node: 'c' }), Invalid);
    assert.throws(() => net.core('a').proposeConfChange({ type: 'remove', node: 'zz' }), Invalid);
    const solo = createTestNet({ voters: ['s'] });
    solo.tickAll(2 * E);
    assert.throws(() => solo.core('s').proposeConfChange({ type: 'remove', node: 's' }), /last voter/);
  });
});

describe('§7 log compaction', () => {
  it('compact drops the entries up to the index and keeps a snapshot of them', () => {
    const net = threeWithLeader();
    for (let i = 0; i < 5; i++) net.propose('a', `x${i}`);
    net.stabilize();
    const a = net.node('a');
    a.core.compact(4, snapshotData(a, 4));
    const snap = a.core.latestSnapshot?.();
    assert.ok(snap);
    assert.equal(snap.index, 4);
    assert.equal(snap.term, 1);
    assert.deepEqual(snap.conf, { voters: ['a', 'b', 'c'], learners: [] });
    assert.equal(a.core.status().lastIndex, 6);
    net.propose('a', 'y');
    net.stabilize();
    assert.deepEqual(net.data('c'), ['x0', 'x1', 'x2', 'x3', 'x4', 'y']);
    assert.equal(messagesOf(net.sent, 'snapshot').length, 0, 'followers that have the entries need no snapshot');
  });

  it('a follower behind the first kept index gets a snapshot and catches up from it', () => {
    const net = threeWithLeader();
    net.isolate('c');
    for (let i = 0; i < 10; i++) net.propose('a', `x${i}`);
    net.stabilize();
    const a = net.node('a');
    a.core.compact(a.appliedIndex, snapshotData(a, a.appliedIndex));
    net.heal();
    net.tickAll(2);
    const c = net.node('c');
    const withSnap = c.readies.find((r) => r.snapshot);
    assert.ok(withSnap, "c's Ready carried the snapshot");
    assert.equal(withSnap.snapshot!.index, a.appliedIndex);
    assert.equal(c.disk.snapshot?.index, a.appliedIndex);
    assert.deepEqual(net.data('c'), net.data('a'));
    net.propose('a', 'after');
    net.stabilize();
    assert.equal(net.data('c').at(-1), 'after');
    assert.equal(c.core.status().lastIndex, a.core.status().lastIndex);
  });

  it("a snapshot replaces a follower's conflicting log and brings the configuration with it", () => {
    const net = threeWithLeader({ outsiders: ['l'] });
    net.isolate('a');
    for (let i = 0; i < 5; i++) net.propose('a', `stale${i}`);
    net.collect();
    tickOthers(net, ['a', 'l'], 2 * E + 5);
    const leader = net.leaderOf(['b', 'c']);
    assert.ok(leader);
    net.core(leader).proposeConfChange({ type: 'add-learner', node: 'l' });
    for (let i = 0; i < 3; i++) net.propose(leader, `new${i}`);
    net.isolate('l');
    net.isolate('a');
    net.stabilize();
    const ln = net.node(leader);
    ln.core.compact(ln.appliedIndex, snapshotData(ln, ln.appliedIndex));
    net.heal();
    net.tickAll(2);
    assert.ok(net.node('a').readies.some((r) => r.snapshot), 'a got a snapshot');
    assert.ok(!net.node('a').disk.entries.some((e) => e.type === 'normal' && e.data.startsWith('stale')));
    assert.deepEqual(net.data('a'), ['new0', 'new1', 'new2']);
    assert.deepEqual(net.core('a').status().conf, { voters: ['a', 'b', 'c'], learners: ['l'] });
  });

  it('compact refuses an index beyond what was applied', () => {
    const net = threeWithLeader();
    net.propose('a', 'x');
    assert.throws(() => net.core('a').compact(2, '[]'), Invalid);
  });
});

describe('§8 client interaction', () => {
  it('read index is not served before the leader commits an entry in its term', () => {
    const net = createTestNet({ voters: ['a', 'b', 'c'] });
    net.core('a').campaign();
    net.collect();
    net.deliver(net.take((m) => m.type === 'pre-vote'));
    net.collect();
    net.deliver(net.take((m) => m.type === 'pre-vote-resp'));
    net.collect();
    net.deliver(net.take((m) => m.type === 'vote'));
    net.collect();
    net.deliver(net.take((m) => m.type === 'vote-resp'));
    assert.equal(net.core('a').status().role, 'leader');
    net.core('a').readIndex('r1');
    net.collect();
    assert.equal(net.core('a').status().commit, 0, 'its empty entry is not committed yet');
    assert.equal(net.node('a').readStates.length, 0);
    assert.ok(!net.pending.some((m) => m.context === 'r1'), 'no confirmation round yet');
    net.stabilize();
    assert.deepEqual(net.node('a').readStates, [{ context: 'r1', index: 1 }]);
  });

  it('a leader confirms its leadership with a heartbeat round before answering a read', () => {
    const net = threeWithLeader();
    const index = net.propose('a', 'x');
    net.stabilize();
    net.core('a').readIndex('r');
    net.collect();
    const hbs = net.take((m) => m.type === 'heartbeat');
    assert.equal(hbs.length, 2);
    assert.ok(hbs.every((m) => m.context === 'r'));
    assert.equal(net.node('a').readStates.length, 0);
    net.deliver(hbs.filter((m) => m.to === 'b'));
    net.collect();
    net.deliver(net.take((m) => m.type === 'heartbeat-resp'));
    net.collect();
    assert.deepEqual(net.node('a').readStates, [{ context: 'r', index }], 'one ack makes a quorum of 3');
  });

  it('the read index is the commit at request time, not at confirmation time', () => {
    const net = threeWithLeader();
    const first = net.propose('a', 'x');
    net.stabilize();
    net.core('a').readIndex('r');
    net.collect();
    const hbs = net.take((m) => m.type === 'heartbeat');
    const later = net.propose('a', 'y');
    net.stabilize();
    assert.equal(net.core('a').status().commit, later);
    net.deliver(hbs);
    net.stabilize();
    assert.deepEqual(net.node('a').readStates, [{ context: 'r', index: first }]);
  });

  it('a follower forwards a read to the leader and gets the read index back', () => {
    const net = threeWithLeader();
    const index = net.propose('a', 'x');
    net.stabilize();
    net.core('b').readIndex('fr');
    net.collect();
    assert.equal(messagesOf(net.pending, 'read-index', 'a').length, 1);
    net.stabilize();
    assert.deepEqual(net.node('b').readStates, [{ context: 'fr', index }]);
    assert.equal(net.node('a').readStates.length, 0);
  });

  it('a read is dropped when there is no leader', () => {
    const net = createTestNet({ voters: ['a', 'b', 'c'] });
    net.core('b').readIndex('r');
    net.stabilize();
    assert.equal(net.sent.length, 0);
    assert.equal(net.node('b').readStates.length, 0);
  });

  it('a leader cut off from the quorum does not serve reads', () => {
    const net = threeWithLeader();
    net.isolate('a');
    net.core('a').readIndex('r');
    net.stabilize();
    net.tick('a', 3);
    net.stabilize();
    assert.equal(net.node('a').readStates.length, 0);
  });

  it('leaseValid holds while a quorum acked within the last electionTicks - 2 ticks', () => {
    const net = threeWithLeader();
    net.tickAll(1);
    assert.equal(net.core('a').status().leaseValid, true);
    assert.equal(net.core('b').status().leaseValid, false, 'followers hold no lease');
    net.isolate('a');
    net.tick('a', E - 3);
    assert.equal(net.core('a').status().leaseValid, true);
    net.tick('a', 1);
    assert.equal(net.core('a').status().role, 'leader', 'still leader: check-quorum has not run yet');
    assert.equal(net.core('a').status().leaseValid, false, 'the lease ran out first');
  });

  it('no other leader is elected while the old leader holds its lease', () => {
    const net = threeWithLeader();
    net.tickAll(2);
    net.isolate('a');
    let sawOther = false;
    for (let t = 0; t < 4 * E; t++) {
      net.tickAll(1);
      net.core('b').campaign();
      net.stabilize();
      const other = ['b', 'c'].find((id) => net.core(id).status().role === 'leader');
      if (other) sawOther = true;
      if (net.core('a').status().leaseValid) assert.equal(other, undefined, `tick ${t}: ${other} leads while a holds its lease`);
    }
    assert.ok(sawOther, 'b or c took over once the lease ran out');
  });

  it('a single voter holds its lease alone', () => {
    const net = createTestNet({ voters: ['solo'] });
    net.tickAll(2 * E);
    assert.equal(net.core('solo').status().leaseValid, true);
  });
});

describe('leadership transfer', () => {
  it('transfers to an up-to-date follower via timeout-now, despite leader stickiness', () => {
    const net = threeWithLeader();
    net.tickAll(1);
    const before = net.sent.length;
    net.core('a').transferLeadership('b');
    net.collect();
    assert.equal(messagesOf(net.pending, 'timeout-now', 'b').length, 1);
    assert.equal(net.core('a').status().leaseValid, false, 'the lease ends with timeout-now');
    net.stabilize();
    assert.equal(net.leaderOf(), 'b');
    assert.equal(net.core('b').status().term, 2);
    assert.equal(net.core('a').status().leader, 'b');
    const votes = messagesOf(net.sent.slice(before), 'vote');
    assert.ok(votes.length === 2 && votes.every((m) => m.transfer === true), 'no pre-vote; the votes say transfer');
  });

  it('waits for a lagging target to catch up, refusing proposals meanwhile', () => {
    const net = threeWithLeader();
    net.cut('a', 'c');
    for (let i = 0; i < 3; i++) net.propose('a', `x${i}`);
    net.stabilize();
    net.core('a').transferLeadership('c');
    net.collect();
    assert.equal(messagesOf(net.pending, 'timeout-now').length, 0, 'c is behind');
    assert.deepEqual(net.core('a').propose('y'), { ok: false, reason: 'transferring', leader: 'a' });
    net.heal();
    net.stabilize();
    net.tickAll(1);
    assert.equal(net.leaderOf(), 'c');
    assert.deepEqual(net.data('c'), ['x0', 'x1', 'x2']);
  });

  it('a transfer that cannot complete is aborted after electionTicks', () => {
    const net = threeWithLeader();
    net.isolate('c');
    net.propose('a', 'x');
    net.stabilize();
    net.core('a').transferLeadership('c');
    assert.equal(net.core('a').propose('y').ok, false);
    net.tickAll(E);
    assert.equal(net.leaderOf(), 'a');
    assert.ok(net.core('a').propose('y').ok, 'proposals are accepted again');
  });
});

describe('leadership transfer: timeouts', () => {
  it('a leader whose timeout-now went unanswered steps down when the transfer times out', () => {
    const net = threeWithLeader();
    net.tickAll(1);
    net.isolate('c');
    net.core('a').transferLeadership('c');
    net.collect();
    assert.equal(messagesOf(net.pending, 'timeout-now', 'c').length, 1, 'c was caught up');
    net.stabilize();
    assert.equal(net.core('a').status().leaseValid, false);
    net.tickAll(1);
    assert.equal(net.core('a').status().leaseValid, false, 'no lease for the rest of the term, whatever acks come in');
    net.tickAll(E);
    assert.notEqual(net.core('a').status().role, 'leader', 'it may not know whether c is about to win');
    for (let i = 0; i < 3 * E && !net.leaderOf(['a', 'b']); i++) net.tickAll(1);
    const leader = net.leaderOf(['a', 'b']);
    assert.ok(leader);
    assert.ok(net.core(leader).status().term >= 2);
    net.tickAll(1);
    assert.equal(net.core(leader).status().leaseValid, true, 'a new term brings a new lease');
  });
});

describe('restart', () => {
  it('a restarted node keeps its term, vote, commit and log, and replays committed entries', () => {
    const net = threeWithLeader();
    net.propose('a', 'x');
    net.propose('a', 'y');
    net.stabilize();
    net.tickAll(1);
    const before = net.core('b').status();
    net.restart('b');
    const after = net.core('b').status();
    assert.equal(after.term, before.term);
    assert.equal(after.commit, before.commit);
    assert.equal(after.lastIndex, before.lastIndex);
    assert.equal(net.node('b').disk.hardState.vote, 'a');
    net.collect();
    assert.deepEqual(net.data('b'), ['x', 'y'], 'committed entries are handed out again after a restart');
    net.tickAll(1);
    assert.equal(net.core('b').status().leader, 'a');
  });

  it('a restarted node does not vote twice in one term', () => {
    const net = createTestNet({ voters: ['a', 'b', 'c'] });
    net.core('c').step(vote('a', 'c', 1, 0, 0));
    net.collect();
    net.take();
    net.restart('c');
    net.core('c').step(vote('b', 'c', 1, 0, 0));
    net.collect();
    const [resp] = net.take((m) => m.type === 'vote-resp');
    assert.equal(resp?.reject, true);
    assert.equal(net.node('c').disk.hardState.vote, 'a');
  });

  it('a restarted voter waits an election timeout before answering votes, so the lease survives restarts', () => {
    const net = threeWithLeader();
    net.restart('c');
    net.core('c').step(vote('b', 'c', 2, 1, 1, 'pre-vote'));
    net.collect();
    assert.equal(net.take().length, 0, 'ignored right after the restart');
    net.tick('c', E);
    net.collect();
    net.take();
    net.core('c').step(vote('b', 'c', 2, 1, 1, 'pre-vote'));
    net.collect();
    assert.equal(messagesOf(net.take(), 'pre-vote-resp')[0]?.reject, false);
  });

  it('the configuration is the last conf entry, else the snapshot, else initialConf', () => {
    const initialConf = { voters: ['a', 'b', 'c'], learners: [] };
    const fromEntries = makeCore('a', {
      initialConf,
      hardState: { term: 1, vote: '', commit: 2 },
      entries: [{ index: 1, term: 1, type: 'empty' }, { index: 2, term: 1, type: 'conf', change: { type: 'add-learner', node: 'l' } }, normal(3, 1)],
    });
    assert.deepEqual(fromEntries.status().conf, { voters: ['a', 'b', 'c'], learners: ['l'] });
    const snapshot = { index: 5, term: 2, conf: { voters: ['a', 'b'], learners: [] }, data: '[]' };
    const fromSnap = makeCore('a', { initialConf, hardState: { term: 2, vote: '', commit: 5 }, snapshot, entries: [normal(6, 2)] });
    assert.deepEqual(fromSnap.status().conf, { voters: ['a', 'b'], learners: [] });
    assert.equal(fromSnap.status().lastIndex, 6);
    assert.equal(fromSnap.status().applied, 5);
    const fresh = makeCore('a', { initialConf });
    assert.deepEqual(fresh.status().conf, initialConf);
  });

  it('a restart hands out committed entries after start.applied (default: the snapshot) again', () => {
    const entries: Entry[] = [{ index: 1, term: 1, type: 'empty' }, normal(2, 1), normal(3, 1), normal(4, 1)];
    const replay = (applied?: number): number[] => {
      const core = createRaftCore(
        { id: 'a', electionTicks: E, heartbeatTicks: 1, random: () => 0.5 },
        { hardState: { term: 1, vote: 'a', commit: 3 }, entries, initialConf: { voters: ['a', 'b', 'c'], learners: [] }, ...(applied !== undefined ? { applied } : {}) },
      );
      return drain(core).flatMap((r) => r.committedEntries.map((e) => e.index));
    };
    assert.deepEqual(replay(), [1, 2, 3]);
    assert.deepEqual(replay(2), [3]);
    assert.deepEqual(replay(9), [], 'never beyond the commit index');
  });

  it('a node whose id is not in the configuration never campaigns', () => {
    const net = createTestNet({ voters: ['a', 'b', 'c'], outsiders: ['x'] });
    net.isolate('x');
    for (let i = 0; i < 5 * E; i++) net.tick('x');
    net.core('x').campaign();
    net.collect();
    assert.equal(net.sent.filter((m) => m.from === 'x').length, 0);
    assert.equal(net.core('x').status().role, 'follower');
  });

  it('a group founded with committed conf entries of term 1 (as the driver does) elects a leader and admits a joiner', () => {
    const net = createTestNet({ voters: ['a', 'b', 'c'], outsiders: ['d'], bootstrapInLog: true });
    assert.deepEqual(net.core('a').status().conf, { voters: ['a', 'b', 'c'], learners: [] });
    assert.deepEqual(net.core('d').status().conf, { voters: [], learners: [] });
    net.tickAll(3 * E);
    const leader = net.leaderOf();
    assert.ok(leader);
    assert.ok(net.core(leader).proposeConfChange({ type: 'add-learner', node: 'd' }).ok);
    net.propose(leader, 'x');
    net.stabilize();
    net.tickAll(2);
    assert.deepEqual(net.core('d').status().conf, { voters: ['a', 'b', 'c'], learners: ['d'] }, 'the joiner learned the founding configuration from the log');
    assert.deepEqual(net.data('d'), ['x']);
  });

  it('a lone voter may campaign right after a restart', () => {
    const net = createTestNet({ voters: ['solo'] });
    net.elect('solo');
    net.propose('solo', 'x');
    net.collect();
    net.restart('solo');
    net.core('solo').campaign();
    net.collect();
    assert.equal(net.core('solo').status().role, 'leader');
    assert.equal(net.core('solo').status().term, 2);
    assert.deepEqual(net.data('solo'), ['x']);
  });

  it('the whole group restarts and elects a leader again without losing committed entries', () => {
    const net = threeWithLeader();
    for (let i = 0; i < 5; i++) net.propose('a', `x${i}`);
    net.stabilize();
    net.tickAll(1);
    for (const id of ['a', 'b', 'c']) net.restart(id);
    net.tickAll(3 * E);
    const leader = net.leaderOf();
    assert.ok(leader);
    assert.ok(net.core(leader).status().term >= 2);
    net.propose(leader, 'after');
    net.stabilize();
    for (const id of ['a', 'b', 'c']) assert.deepEqual(net.data(id), ['x0', 'x1', 'x2', 'x3', 'x4', 'after']);
  });
});
