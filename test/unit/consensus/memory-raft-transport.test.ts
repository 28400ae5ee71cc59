// The in-process Raft network used by the driver tests: delivery, copies, partitions, loss, requests.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryRaftNetwork } from '../../../src/consensus/memory-raft-transport.ts';
import { UnknownRequestKind } from '../../../src/consensus/raft-node.ts';
import type { Message } from '../../../src/consensus/raft-types.ts';
import { PeerUnreachable, RemoteError, RequestTimeout } from '../../../src/net/errors.ts';
import { seededRandom } from '../../support/seeded-random.ts';

// Delivery is scheduled with setImmediate; two more turns are sure to come after it.
const settle = () => new Promise<void>((r) => setImmediate(() => setImmediate(r)));
const hb = (from: string, to: string, term = 1): Message => ({ type: 'heartbeat', from, to, term, commit: 0 });

describe('memory raft network', () => {
  it('delivers copies, asynchronously', async () => {
    const net = createMemoryRaftNetwork();
    const [a, b] = [net.transport('a'), net.transport('b')];
    const got: Message[] = [];
    b.onMessage((m) => got.push(m));
    const msg: Message = { type: 'append', from: 'a', to: 'b', term: 2, entries: [{ index: 1, term: 2, type: 'empty' }] };
    a.send(msg);
    assert.equal(got.length, 0, 'not delivered synchronously');
    await settle();
    assert.deepEqual(got, [msg]);
    assert.notEqual(got[0], msg);
    assert.notEqual(got[0]!.entries, msg.entries);
  });

  it('partitions, isolates and heals links; messages in flight over a cut link are lost', async () => {
    const net = createMemoryRaftNetwork();
    const t = { a: net.transport('a'), b: net.transport('b'), c: net.transport('c') };
    const got: string[] = [];
    for (const [id, tr] of Object.entries(t)) tr.onMessage((m) => got.push(`${m.from}>${id}`));
    net.partition('a', 'b');
    t.a.send(hb('a', 'b'));
    t.b.send(hb('b', 'a'));
    t.a.send(hb('a', 'c'));
    await settle();
    assert.deepEqual(got, ['a>c']);
    net.heal('a', 'b');
    net.isolate('c');
    t.a.send(hb('a', 'b'));
    t.a.send(hb('a', 'c'));
    await settle();
    assert.deepEqual(got, ['a>c', 'a>b']);
    net.heal('c');
    t.b.send(hb('b', 'c'));
    net.isolate('b'); // cut while in flight
    await settle();
    assert.deepEqual(got, ['a>c', 'a>b']);
    net.heal();
    assert.ok(net.reachable('b', 'c'));
    t.b.send(hb('b', 'c'));
    await settle();
    assert.deepEqual(got, ['a>c', 'a>b', 'b>c']);
  });

  it('drops a seeded fraction of messages and messages a filter matches', async () => {
    const net = createMemoryRaftNetwork({ random: seededRandom(7) });
    const [a, b] = [net.transport('a'), net.transport('b')];
    let got = 0;
    b.onMessage(() => got++);
    net.setDropRate(0.5);
    for (let i = 0; i < 200; i++) a.send(hb('a', 'b'));
    await settle();
    assert.ok(got > 50 && got < 150, `about half arrived: ${got}`);
    assert.equal(net.stats().delivered + net.stats().dropped, 200);
    net.setDropRate(0);
    const off = net.dropIf((m) => m.term === 9);
    a.send(hb('a', 'b', 9));
    a.send(hb('a', 'b', 8));
    await settle();
    const before = got;
    off();
    a.send(hb('a', 'b', 9));
    await settle();
    assert.equal(got, before + 1);
    assert.throws(() => net.setDropRate(2), RangeError);
  });

  it('answers requests, reports unreachable peers, remote failures and timeouts', async () => {
    const net = createMemoryRaftNetwork();
    const [a, b] = [net.transport('a'), net.transport('b')];
    b.onRequest(async (from, kind, body) => {
      if (kind === 'slow') return new Promise<string>(() => undefined);
      if (kind === 'fail') throw new Error('refused');
      if (kind !== 'echo') throw new UnknownRequestKind(kind);
      return `${from}:${body}`;
    });
    assert.equal(await a.request('b', 'echo', 'x'), 'a:x');
    await assert.rejects(a.request('b', 'fail', 'x'), (e: unknown) => e instanceof RemoteError && /refused/.test(e.message));
    await assert.rejects(a.request('b', 'nope', 'x'), /no handler for raft request kind "nope"/);
    await assert.rejects(a.request('b', 'slow', 'x', { timeoutMs: 50 }), RequestTimeout);
    await assert.rejects(a.request('z', 'echo', 'x'), PeerUnreachable);
    net.partition('a', 'b');
    await assert.rejects(a.request('b', 'echo', 'x'), PeerUnreachable);
    net.heal();
    await b.stop();
    await assert.rejects(a.request('b', 'echo', 'x'), PeerUnreachable);
  });
});
