// The libp2p Raft transport between two real mesh hosts on 127.0.0.1.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../../../src/agent/logger.ts';
import { createLibp2pRaftTransport, parseRaftMessage, RAFT_MESSAGE_PROTOCOL } from '../../../src/consensus/libp2p-raft-transport.ts';
import { UnknownRequestKind } from '../../../src/consensus/raft-node.ts';
import type { Message } from '../../../src/consensus/raft-types.ts';
import { PeerUnreachable, RemoteError } from '../../../src/net/errors.ts';
import { createHarness, newPsk, waitFor } from '../net/net-harness.ts';

const h = createHarness();
after(() => h.cleanup());

describe('libp2p raft transport', () => {
  it('delivers messages and requests by node name, and drops a message with a forged sender', async () => {
    const psk = newPsk();
    const [ha, hb] = [await h.host(psk), await h.host(psk)];
    await hb.dial(ha.multiaddrs()[0]!);
    const names = new Map([
      ['a', ha.peerId],
      ['b', hb.peerId],
    ]);
    const peerIdOf = (n: string) => names.get(n);
    const nodeNameOf = (p: string) => [...names].find(([, id]) => id === p)?.[0];
    const ta = h.track(await createLibp2pRaftTransport({ host: ha, peerIdOf, nodeNameOf, logger: silentLogger(), nodeName: 'a' }));
    const tb = h.track(await createLibp2pRaftTransport({ host: hb, peerIdOf, nodeNameOf, logger: silentLogger() }));

    const gotA: Message[] = [];
    ta.onMessage((m) => gotA.push(m));
    // A message that claims to come from someone else than the connection's peer is dropped.
    await hb.request(ha.peerId, RAFT_MESSAGE_PROTOCOL, new TextEncoder().encode(JSON.stringify({ type: 'vote', from: 'c', to: 'a', term: 9 })));
    // So is one for another node, and one that is not a Raft message.
    await hb.request(ha.peerId, RAFT_MESSAGE_PROTOCOL, new TextEncoder().encode(JSON.stringify({ type: 'vote', from: 'b', to: 'z', term: 9 })));
    await hb.request(ha.peerId, RAFT_MESSAGE_PROTOCOL, new TextEncoder().encode('{"type":"nonsense"}'));
    const msg: Message = { type: 'append', from: 'b', to: 'a', term: 3, logIndex: 4, logTerm: 2, entries: [{ index: 5, term: 3, type: 'normal', data: 'x' }], commit: 4 };
    tb.send(msg);
    assert.ok(await waitFor(() => gotA.length > 0, 5_000), 'the message arrived');
    assert.deepEqual(gotA, [msg]);

    // Sending to a node with no known peer id is dropped quietly.
    tb.send({ ...msg, to: 'nobody' });

    tb.onRequest(async (from, kind, body) => {
      if (kind !== 'echo') throw new UnknownRequestKind(kind);
      return `${from}:${body}`;
    });
    assert.equal(await ta.request('b', 'echo', 'hello'), 'a:hello');
    await assert.rejects(ta.request('b', 'other', 'x'), (err: unknown) => err instanceof RemoteError && /no handler for raft request kind "other"/.test(err.message));
    await assert.rejects(ta.request('nobody', 'echo', 'x'), PeerUnreachable);
  });

  it('parses only well-formed messages', () => {
    const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
    assert.deepEqual(parseRaftMessage(enc({ type: 'heartbeat', from: 'a', to: 'b', term: 1, commit: 3 })), { type: 'heartbeat', from: 'a', to: 'b', term: 1, commit: 3 });
    assert.equal(parseRaftMessage(enc({ type: 'heartbeat', from: 'a', to: 'b', term: -1 })), undefined);
    assert.equal(parseRaftMessage(enc({ type: 'heartbeat', from: 'a', to: 'b', term: 1, commit: 'x' })), undefined);
    assert.equal(parseRaftMessage(enc({ type: 'append', from: 'a', to: 'b', term: 1, entries: {} })), undefined);
    assert.equal(parseRaftMessage(enc({ type: 'snapshot', from: 'a', to: 'b', term: 1, snapshot: { index: 1 } })), undefined);
    assert.equal(parseRaftMessage(enc(['heartbeat'])), undefined);
    assert.equal(parseRaftMessage(new TextEncoder().encode('not json')), undefined);
  });
});
