import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { shortAddress, statusLines } from '../../../src/cli/commands/mesh.ts';

describe('mesh status output', () => {
  it('shortens multiaddrs to host:port', () => {
    assert.equal(shortAddress('/ip4/10.77.0.11/tcp/7946/p2p/12D3KooWabc'), '10.77.0.11:7946');
    assert.equal(shortAddress('/ip6/::1/tcp/7946'), '[::1]:7946');
    assert.equal(shortAddress('/dns4/example/tcp/1'), '/dns4/example/tcp/1');
  });

  it('prints one row per member, this agent marked, with contact age and lag', () => {
    const now = Date.parse('2026-11-25T10:00:10Z');
    const lines = statusLines(
      {
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
    assert.match(lines[1]!, /^NODE\s+STATUS\s+ADDRESS\s+LAST CONTACT\s+BEHIND\s+PEER ID$/);
    assert.match(lines[2]!, /^h1 \(this agent\)\s+alive\s+10\.77\.0\.11:7946\s+-\s+-\s+P1$/);
    assert.match(lines[3]!, /^h2\s+dead\s+10\.77\.0\.12:7946\s+5s ago\s+7\s+P2$/);
  });
});
