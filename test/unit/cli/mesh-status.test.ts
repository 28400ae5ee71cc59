import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { raftLines, shortAddress, statusLines } from '../../../src/cli/commands/mesh.ts';

describe('mesh status output', () => {
  it('shortens multiaddrs to host:port', () => {
    assert.equal(shortAddress('/ip4/10.77.0.11/tcp/7946/p2p/12D3KooWabc'), '10.77.0.11:7946');
    assert.equal(shortAddress('/ip6/::1/tcp/7946'), '[::1]:7946');
    assert.equal(shortAddress('/dns4/example/tcp/1'), '/dns4/example/tcp/1');
  });

  const raft = {
    role: 'follower',
    membership: 'voter' as const,
    term: 4,
    leader: 'h2',
    commit: 12,
    applied: 11,
    voters: ['h2', 'h1'],
    learners: [],
    quorum: true,
  };

  it('prints one row per member, this agent marked, with contact age, lag and Raft role', () => {
    const now = Date.parse('2026-11-25T10:00:10Z');
    const lines = statusLines(
      {
        raft,
        clusterName: 'mesh',
        nodeName: 'h1',
        peerId: 'P1',
        knownChanges: 40,
        members: [
          { nodeName: 'h2', peerId: 'P2', addresses: ['/ip4/10.77.0.12/tcp/7946/p2p/P2'], status: 'dead', lastContact: '2026-11-25T10:00:05Z', behind: 7, self: false },
          { nodeName: 'h1', peerId: 'P1', addresses: ['/ip4/10.77.0.11/tcp/7946/p2p/P1'], status: 'alive', behind: 0, self: true },
        ],
      },
      now,
    );
    assert.equal(lines[0], 'Cluster mesh: 2 member(s); this agent knows 40 change(s)');
    assert.equal(lines[1], 'Raft: term 4, leader h2; voters h1, h2; learners -; this agent: follower (voter), applied 11/12');
    assert.equal(lines[2], 'Leader-only work (scheduling, controllers, allocation, eviction, secrets): running on h2');
    assert.match(lines[3]!, /^NODE\s+STATUS\s+RAFT\s+ADDRESS\s+LAST CONTACT\s+BEHIND\s+PEER ID$/);
    assert.match(lines[4]!, /^h1 \(this agent\)\s+alive\s+voter\s+10\.77\.0\.11:7946\s+-\s+-\s+P1$/);
    assert.match(lines[5]!, /^h2\s+dead\s+voter, leader\s+10\.77\.0\.12:7946\s+5s ago\s+7\s+P2$/);
  });

  it('says leader-only work is paused without a quorum', () => {
    const lines = raftLines({
      clusterName: 'mesh',
      nodeName: 'h1',
      peerId: 'P1',
      knownChanges: 0,
      members: [],
      raft: { ...raft, role: 'pre-candidate', leader: undefined, quorum: false },
    });
    assert.match(lines[0]!, /leader <none>/);
    assert.match(lines[1]!, /PAUSED: no Raft quorum/);
  });
});
