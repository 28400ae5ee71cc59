// The voter planner (pure) case by case, then the shell against a fake Raft member and membership.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../../src/agent/logger.ts';
import type { Member, MemberListener, MemberStatus } from '../../../src/net/membership.ts';
import type { RaftMemberStatus } from '../../../src/consensus/raft-node.ts';
import type { ConfChange, ConfState } from '../../../src/consensus/raft-types.ts';
import { createVoterManager, planVoterChange, targetVoterCount, type MemberView, type VoterPlanInput } from '../../../src/consensus/voter-manager.ts';
import { applyConfChange } from '../../../src/consensus/conf-change.ts';
import { createFakeClock } from '../../support/fake-clock.ts';
import { seededRandom, pick } from '../../support/seeded-random.ts';

const NOW = 1_000_000;
const TIMEOUT = 30_000;

const alive = (...names: string[]): MemberView[] => names.map((nodeName) => ({ nodeName, status: 'alive', lastSeen: NOW }));
const with_ = (status: MemberStatus, lastSeen: number, ...names: string[]): MemberView[] => names.map((nodeName) => ({ nodeName, status, lastSeen }));
const conf = (voters: string[], learners: string[] = []): ConfState => ({ voters, learners });

function plan(over: Partial<VoterPlanInput> & { conf: ConfState; members: MemberView[] }): ConfChange | undefined {
  return planVoterChange({
    leader: 'a',
    desiredVoters: 3,
    now: NOW,
    voterDownTimeoutMs: TIMEOUT,
    lastIndex: 100,
    ...over,
  });
}

describe('targetVoterCount', () => {
  it('is odd, capped by the agents and by the desired count', () => {
    const cases: [number, number, number][] = [
      [3, 1, 1],
      [3, 2, 1],
      [3, 3, 3],
      [3, 4, 3],
      [3, 10, 3],
      [5, 3, 3],
      [5, 4, 3],
      [5, 5, 5],
      [5, 9, 5],
      [4, 9, 3],
      [1, 9, 1],
      [0, 9, 1],
      [3, 0, 1],
    ];
    for (const [desired, agents, want] of cases) assert.equal(targetVoterCount(desired, agents), want, `desired ${desired}, agents ${agents}`);
  });
});

describe('planVoterChange', () => {
  it('does nothing for a lone agent, or two agents (one voter is better than two)', () => {
    assert.equal(plan({ conf: conf(['a']), members: alive('a') }), undefined);
    assert.equal(plan({ conf: conf(['a']), members: alive('a', 'b') }), undefined);
  });

  it('grows a one-voter group as a third agent appears: the lowest name first, as a learner', () => {
    assert.deepEqual(plan({ conf: conf(['a']), members: alive('a', 'c', 'b') }), { type: 'add-learner', node: 'b' });
  });

  it('adds every learner the next odd size needs before it promotes any', () => {
    assert.deepEqual(plan({ conf: conf(['a'], ['b']), members: alive('a', 'b', 'c'), progress: { b: { match: 100, next: 101 } } }), { type: 'add-learner', node: 'c' });
  });

  it('promotes once all those learners caught up, not before', () => {
    const base = { conf: conf(['a'], ['b', 'c']), members: alive('a', 'b', 'c') };
    const caught = { match: 95, next: 96 };
    assert.equal(plan({ ...base, progress: { b: { match: 50, next: 51 }, c: caught } }), undefined, 'b far behind: wait');
    assert.equal(plan(base), undefined, 'no progress known: wait');
    assert.deepEqual(plan({ ...base, progress: { b: caught, c: caught } }), { type: 'promote', node: 'b' });
    assert.deepEqual(plan({ ...base, progress: { b: { match: 80, next: 81 }, c: caught }, maxLearnerLag: 25 }), { type: 'promote', node: 'b' });
    // Half-way (an even group), the rest is promoted as soon as it has caught up.
    assert.deepEqual(plan({ conf: conf(['a', 'b'], ['c']), members: alive('a', 'b', 'c'), progress: { c: caught } }), { type: 'promote', node: 'c' });
  });

  it('adds the next learner after a promotion, and stops at the target', () => {
    assert.deepEqual(plan({ conf: conf(['a', 'b']), members: alive('a', 'b', 'c', 'd') }), { type: 'add-learner', node: 'c' });
    assert.equal(plan({ conf: conf(['a', 'b', 'c']), members: alive('a', 'b', 'c', 'd', 'e') }), undefined);
  });

  it('grows to five when five are desired and enough agents exist', () => {
    assert.deepEqual(plan({ conf: conf(['a', 'b', 'c']), members: alive('a', 'b', 'c', 'd', 'e'), desiredVoters: 5 }), { type: 'add-learner', node: 'd' });
    assert.equal(plan({ conf: conf(['a', 'b', 'c']), members: alive('a', 'b', 'c', 'd'), desiredVoters: 5 }), undefined, 'four agents: stay at three');
  });

  it('does not add a suspect, dead or departed agent', () => {
    const members = [...alive('a'), ...with_('suspect', NOW - 2_000, 'b'), ...with_('dead', NOW - 5_000, 'c'), ...with_('left', NOW, 'd'), ...alive('f', 'e')];
    // b, c count as agents (short outage), so the target is 3; only e and f are healthy to add.
    assert.deepEqual(plan({ conf: conf(['a']), members }), { type: 'add-learner', node: 'e' });
  });

  it('does not start growing when the next odd size is out of reach', () => {
    const members = [...alive('a', 'e'), ...with_('suspect', NOW - 2_000, 'b')];
    assert.equal(plan({ conf: conf(['a']), members }), undefined, 'one healthy candidate cannot make three');
    // From an even group one more voter is enough.
    assert.deepEqual(plan({ conf: conf(['a', 'b']), members: [...members, ...alive('f')] }), { type: 'add-learner', node: 'e' });
  });

  it('waits for healthy learners that are catching up instead of adding more', () => {
    assert.equal(plan({ conf: conf(['a'], ['b', 'c']), members: alive('a', 'b', 'c', 'd'), progress: { b: { match: 0, next: 1 }, c: { match: 0, next: 1 } } }), undefined);
  });

  it('adds another learner when the pending one is unhealthy', () => {
    const members = [...alive('a', 'c', 'd'), ...with_('suspect', NOW - 2_000, 'b')];
    assert.deepEqual(plan({ conf: conf(['a'], ['b']), members, progress: { b: { match: 100, next: 101 } } }), { type: 'add-learner', node: 'c' });
  });

  it('keeps a voter that is dead for less than the timeout', () => {
    const members = [...alive('a', 'b', 'd'), ...with_('dead', NOW - TIMEOUT + 1, 'c')];
    assert.equal(plan({ conf: conf(['a', 'b', 'c']), members }), undefined);
  });

  it('removes a voter dead past the timeout, then replaces it', () => {
    const members = [...alive('a', 'b', 'd'), ...with_('dead', NOW - TIMEOUT, 'c')];
    assert.deepEqual(plan({ conf: conf(['a', 'b', 'c']), members }), { type: 'remove', node: 'c' });
    assert.deepEqual(plan({ conf: conf(['a', 'b']), members }), { type: 'add-learner', node: 'd' });
    assert.deepEqual(plan({ conf: conf(['a', 'b'], ['d']), members, progress: { d: { match: 100, next: 101 } } }), { type: 'promote', node: 'd' });
  });

  it('removes a departed voter at once', () => {
    const members = [...alive('a', 'b', 'd'), ...with_('left', NOW, 'c')];
    assert.deepEqual(plan({ conf: conf(['a', 'b', 'c']), members }), { type: 'remove', node: 'c' });
  });

  it('waits when removing a dead voter would leave no live quorum', () => {
    // b is suspect: {a, b} would need both live.
    const members = [...alive('a'), ...with_('suspect', NOW - 2_000, 'b'), ...with_('dead', NOW - TIMEOUT * 2, 'c')];
    assert.equal(plan({ conf: conf(['a', 'b', 'c']), members }), undefined);
  });

  it('in a five-voter group removes two dead voters one at a time, lowest name first', () => {
    const members = [...alive('a', 'b', 'c'), ...with_('dead', NOW - TIMEOUT, 'd', 'e')];
    const first = plan({ conf: conf(['a', 'b', 'c', 'd', 'e']), members, desiredVoters: 5 });
    assert.deepEqual(first, { type: 'remove', node: 'd' });
    assert.deepEqual(plan({ conf: conf(['a', 'b', 'c', 'e']), members, desiredVoters: 5 }), { type: 'remove', node: 'e' });
  });

  it('never removes the leader, even if membership calls it dead', () => {
    const members = [...with_('dead', NOW - TIMEOUT * 3, 'a'), ...alive('b', 'c')];
    assert.equal(plan({ conf: conf(['a', 'b', 'c']), members }), undefined);
  });

  it('shrinks an even group: two voters and only two agents -> one voter, never the leader', () => {
    assert.deepEqual(plan({ conf: conf(['a', 'b']), members: alive('a', 'b') }), { type: 'remove', node: 'b' });
    assert.deepEqual(plan({ conf: conf(['a', 'b']), members: alive('a', 'b'), leader: 'b' }), { type: 'remove', node: 'a' });
  });

  it('shrinks from five to three when desired drops, removing unhealthy then highest names', () => {
    const members = [...alive('a', 'b', 'c', 'e'), ...with_('suspect', NOW - 2_000, 'd')];
    assert.deepEqual(plan({ conf: conf(['a', 'b', 'c', 'd', 'e']), members }), { type: 'remove', node: 'd' });
    assert.deepEqual(plan({ conf: conf(['a', 'b', 'c', 'e']), members: alive('a', 'b', 'c', 'e') }), { type: 'remove', node: 'e' });
  });

  it('removes a learner that is gone, and spare learners once the group is full', () => {
    const members = [...alive('a', 'b', 'c'), ...with_('dead', NOW - TIMEOUT, 'd')];
    assert.deepEqual(plan({ conf: conf(['a', 'b', 'c'], ['d']), members }), { type: 'remove', node: 'd' });
    assert.deepEqual(plan({ conf: conf(['a', 'b', 'c'], ['d', 'e']), members: alive('a', 'b', 'c', 'd', 'e') }), { type: 'remove', node: 'e' });
  });

  it('does not count long-dead or departed agents toward the target', () => {
    const members = [...alive('a', 'b'), ...with_('dead', NOW - TIMEOUT, 'c'), ...with_('left', NOW, 'd')];
    // Two agents count: one voter is the target, so nothing is added.
    assert.equal(plan({ conf: conf(['a']), members }), undefined);
  });

  it('treats group members missing from the membership as neither live nor gone', () => {
    // c is unknown: not removed, and it does not count as live for the quorum of {a, c} after removing b.
    const members = [...alive('a', 'd'), ...with_('dead', NOW - TIMEOUT, 'b')];
    assert.equal(plan({ conf: conf(['a', 'b', 'c']), members }), undefined);
  });

  it('converges from random states without ever breaking a live quorum (seeded)', () => {
    const seed = Number(process.env.SEED ?? Date.now() % 100_000);
    const rnd = seededRandom(seed);
    const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    for (let trial = 0; trial < 300; trial++) {
      const members: MemberView[] = names
        .filter(() => rnd() < 0.8)
        .map((n) => {
          const status = n === 'a' ? 'alive' : pick(rnd, ['alive', 'alive', 'alive', 'suspect', 'dead', 'left'] as const);
          return { nodeName: n, status, lastSeen: NOW - (status === 'dead' ? pick(rnd, [1_000, TIMEOUT, TIMEOUT * 2]) : 0) };
        });
      if (!members.some((m) => m.nodeName === 'a')) members.push(...alive('a'));
      let c: ConfState = { voters: ['a', ...names.slice(1).filter(() => rnd() < 0.3)], learners: [] };
      const desiredVoters = pick(rnd, [3, 5]);
      const healthy = (n: string) => n === 'a' || members.find((m) => m.nodeName === n)?.status === 'alive';
      for (let step = 0; step < 20; step++) {
        const progress = Object.fromEntries(c.learners.map((l) => [l, { match: 100, next: 101 }]));
        const change = plan({ conf: c, members, desiredVoters, progress });
        if (!change) break;
        const next = applyConfChange(c, change);
        const liveBefore = c.voters.filter(healthy).length >= Math.floor(c.voters.length / 2) + 1;
        const liveAfter = next.voters.filter(healthy).length >= Math.floor(next.voters.length / 2) + 1;
        assert.ok(!liveBefore || liveAfter, `seed ${seed}: ${JSON.stringify(change)} broke a live quorum of ${JSON.stringify(c)}`);
        assert.ok(next.voters.includes('a'), `seed ${seed}: leader removed`);
        c = next;
        assert.ok(step < 19, `seed ${seed}: did not converge from ${JSON.stringify(c)} with ${JSON.stringify(members)}`);
      }
      // An even group (above one) remains only while a voter is unhealthy or no healthy agent is left to add.
      const even = c.voters.length > 1 && c.voters.length % 2 === 0;
      const spare = members.some((m) => !c.voters.includes(m.nodeName) && healthy(m.nodeName));
      const liveQuorum = c.voters.filter(healthy).length >= Math.floor(c.voters.length / 2) + 1;
      // Without a live quorum no change could commit: waiting is right.
      assert.ok(!liveQuorum || c.voters.length <= desiredVoters, `seed ${seed}: ${JSON.stringify(c)} is too big`);
      assert.ok(!even || c.voters.some((v) => !healthy(v)) || !spare, `seed ${seed}: parked at ${JSON.stringify(c)} with ${JSON.stringify(members)}`);
    }
  });
});

describe('voter manager shell', () => {
  function fakes(initial: ConfState) {
    let current = structuredClone(initial);
    let leading = true;
    const changes: ConfChange[] = [];
    const listeners = new Set<MemberListener>();
    let members: Member[] = [];
    const raft = {
      isLeading: () => leading,
      status: (): RaftMemberStatus => ({
        id: 'a',
        role: leading ? 'leader' : 'follower',
        term: 3,
        leader: leading ? 'a' : 'b',
        commit: 100,
        applied: 100,
        lastIndex: 100,
        conf: structuredClone(current),
        leaseValid: leading,
        progress: Object.fromEntries([...current.voters, ...current.learners].map((n) => [n, { match: 100, next: 101 }])),
        inGroup: true,
        quorum: true,
      }),
      async changeMembership(change: ConfChange) {
        changes.push(change);
        current = applyConfChange(current, change);
      },
    };
    const member = (nodeName: string, status: MemberStatus, lastSeen: number): Member => ({
      nodeName,
      peerId: `peer-${nodeName}`,
      addrs: [],
      lastSeen,
      stateDigest: { changes: 0 },
      status,
      self: nodeName === 'a',
    });
    const membership = {
      members: () => members,
      onChange(l: MemberListener) {
        listeners.add(l);
        return () => listeners.delete(l);
      },
    };
    return {
      raft,
      membership,
      changes,
      conf: () => current,
      setLeading: (v: boolean) => (leading = v),
      setMembers(list: [string, MemberStatus, number][]) {
        members = list.map(([n, s, t]) => member(n, s, t));
        for (const l of listeners) l(members[0]!, undefined);
      },
    };
  }

  it('grows the group on membership changes, only while leading, one change at a time', async () => {
    const clock = createFakeClock();
    const f = fakes(conf(['a']));
    const vm = createVoterManager({ raft: f.raft, membership: f.membership, logger: silentLogger(), clock, intervalMs: 1_000 });
    vm.start();
    f.setLeading(false);
    f.setMembers([
      ['a', 'alive', clock.now()],
      ['b', 'alive', clock.now()],
      ['c', 'alive', clock.now()],
    ]);
    await clock.advance(5_000);
    assert.deepEqual(f.changes, [], 'a follower changes nothing');
    f.setLeading(true);
    f.setMembers([
      ['a', 'alive', clock.now()],
      ['b', 'alive', clock.now()],
      ['c', 'alive', clock.now()],
    ]);
    await clock.advance(10);
    assert.equal(f.changes.length, 1, 'a membership change triggers one round');
    await clock.advance(10_000);
    assert.deepEqual(f.changes, [
      { type: 'add-learner', node: 'b' },
      { type: 'add-learner', node: 'c' },
      { type: 'promote', node: 'b' },
      { type: 'promote', node: 'c' },
    ]);
    assert.deepEqual(f.conf(), conf(['a', 'b', 'c']));
    await vm.stop();
  });

  it('replaces a voter the membership no longer knows, after the down timeout', async () => {
    const clock = createFakeClock();
    const f = fakes(conf(['a', 'b', 'c']));
    f.setMembers([
      ['a', 'alive', clock.now()],
      ['b', 'alive', clock.now()],
      ['d', 'alive', clock.now()],
    ]);
    const vm = createVoterManager({ raft: f.raft, membership: f.membership, logger: silentLogger(), clock, voterDownTimeoutMs: 5_000 });
    vm.start();
    await clock.advance(3_000);
    assert.deepEqual(f.changes, [], 'not before the timeout');
    // Keep the live members fresh while time passes.
    for (let i = 0; i < 6; i++) {
      f.setMembers([
        ['a', 'alive', clock.now()],
        ['b', 'alive', clock.now()],
        ['d', 'alive', clock.now()],
      ]);
      await clock.advance(1_000);
    }
    assert.deepEqual(f.changes.slice(0, 3), [
      { type: 'remove', node: 'c' },
      { type: 'add-learner', node: 'd' },
      { type: 'promote', node: 'd' },
    ]);
    assert.deepEqual(f.conf(), conf(['a', 'b', 'd']));
    await vm.stop();
    const n = f.changes.length;
    await clock.advance(5_000);
    assert.equal(f.changes.length, n, 'stopped: no more rounds');
  });
});
