// Real libp2p hosts on loopback: gossip, request/response, the private network.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { RemoteError, RequestTimeout, PeerUnreachable } from '../../../src/net/errors.ts';
import { createHarness, newPsk, sleep, waitFor } from './net-harness.ts';

const h = createHarness();
after(() => h.cleanup());

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const bytes = (s: string) => new TextEncoder().encode(s);

describe('mesh host', () => {
  it('keeps its peer id across restarts with the same data dir', async () => {
    const dir = await h.tempDir();
    const psk = newPsk();
    const first = await h.host(psk, dir);
    const id = first.peerId;
    assert.ok(first.multiaddrs().every((a) => a.startsWith('/ip4/127.0.0.1/tcp/') && a.endsWith(`/p2p/${id}`)));
    await first.stop();
    const second = await h.host(psk, dir);
    assert.equal(second.peerId, id);
    const other = await h.host(psk);
    assert.notEqual(other.peerId, id);
  });

  it('delivers gossip to every subscriber, relayed across a line A-B-C', async () => {
    const psk = newPsk();
    const [a, b, c] = [await h.host(psk), await h.host(psk), await h.host(psk)];
    const got: Record<string, { from: string; data: string }[]> = { a: [], b: [], c: [] };
    a.subscribe('t/1', (from, d) => got.a!.push({ from, data: text(d) }));
    b.subscribe('t/1', (from, d) => got.b!.push({ from, data: text(d) }));
    c.subscribe('t/1', (from, d) => got.c!.push({ from, data: text(d) }));
    assert.equal(await b.dial(a.multiaddrs()[0]!), a.peerId);
    assert.equal(await c.dial(b.multiaddrs()[0]!), b.peerId);
    assert.ok(!c.isConnected(a.peerId), 'C reaches A only through B');
    assert.ok(await waitFor(() => b.topicPeers('t/1').length === 2 && a.topicPeers('t/1').length === 1, 5_000), 'subscriptions seen');
    // Let gossipsub graft its mesh (heartbeat 250 ms) so B forwards to C.
    await sleep(700);
    await a.publish('t/1', bytes('from-a'));
    assert.ok(await waitFor(() => got.b!.length === 1 && got.c!.length === 1, 3_000), `delivered: ${JSON.stringify(got)}`);
    assert.deepEqual(got.b![0], { from: a.peerId, data: 'from-a' });
    // The sender is the signer, not the relay.
    assert.deepEqual(got.c![0], { from: a.peerId, data: 'from-a' });
    assert.equal(got.a!.length, 0, 'no echo to self');

    await c.publish('t/1', bytes('from-c'));
    assert.ok(await waitFor(() => got.a!.length === 1 && got.b!.length === 2, 3_000));
    assert.deepEqual(got.a![0], { from: c.peerId, data: 'from-c' });
  });

  it('answers requests by peer id and by multiaddr, and reports remote errors', async () => {
    const psk = newPsk();
    const [server, client] = [await h.host(psk), await h.host(psk)];
    const events: string[] = [];
    server.onPeer((ev) => events.push(`${ev.type}:${ev.peerId}`));
    const seen: string[] = [];
    await server.handle('/test/echo/1', async (from, req) => {
      seen.push(from);
      if (text(req) === 'fail') throw new Error('asked to fail');
      return bytes(`echo:${text(req)}`);
    });
    const big = 'x'.repeat(300_000);
    assert.equal(text(await client.request(server.multiaddrs()[0]!, '/test/echo/1', bytes('hi'))), 'echo:hi');
    assert.equal(text(await client.request(server.peerId, '/test/echo/1', bytes(big))), `echo:${big}`);
    assert.deepEqual(seen, [client.peerId, client.peerId]);
    await assert.rejects(client.request(server.peerId, '/test/echo/1', bytes('fail')), (err: Error) => {
      return err instanceof RemoteError && /asked to fail/.test(err.message);
    });
    await assert.rejects(client.request(server.peerId, '/test/none/1', bytes('x')), PeerUnreachable);
    assert.deepEqual(client.connectedPeers(), [server.peerId]);
    assert.deepEqual(events, [`connect:${client.peerId}`]);
    await client.stop();
    assert.ok(await waitFor(() => events.length === 2, 3_000), events.join());
    assert.equal(events[1], `disconnect:${client.peerId}`);
    assert.deepEqual(server.connectedPeers(), []);
  });

  it('times out a request whose handler does not answer in time', async () => {
    const psk = newPsk();
    const [server, client] = [await h.host(psk), await h.host(psk)];
    await server.handle('/test/slow/1', async () => {
      await sleep(1_500);
      return bytes('late');
    });
    const t0 = Date.now();
    await assert.rejects(
      client.request(server.multiaddrs()[0]!, '/test/slow/1', bytes('x'), { timeoutMs: 300 }),
      (err: Error) => err instanceof RequestTimeout && /timed out after 300 ms/.test(err.message),
    );
    const took = Date.now() - t0;
    assert.ok(took < 1_400, `gave up after ${took} ms`);
  });

  it('keeps a host with another pre-shared key out: no connection, no message', async () => {
    const psk = newPsk();
    const [a, b] = [await h.host(psk), await h.host(psk)];
    const stranger = await h.host(newPsk());
    const strangerGot: string[] = [];
    stranger.subscribe('t/2', (_f, d) => strangerGot.push(text(d)));
    const bGot: string[] = [];
    b.subscribe('t/2', (_f, d) => bGot.push(text(d)));
    await b.dial(a.multiaddrs()[0]!);

    await assert.rejects(stranger.dial(a.multiaddrs()[0]!, { timeoutMs: 1_500 }), PeerUnreachable);
    await assert.rejects(a.dial(stranger.multiaddrs()[0]!, { timeoutMs: 1_500 }), PeerUnreachable);
    await assert.rejects(stranger.request(a.multiaddrs()[0]!, '/test/any/1', bytes('x'), { timeoutMs: 1_500 }), (err: Error) => {
      return err instanceof PeerUnreachable || err instanceof RequestTimeout;
    });

    assert.ok(await waitFor(() => a.topicPeers('t/2').length === 1, 5_000));
    await sleep(300);
    await a.publish('t/2', bytes('secret'));
    assert.ok(await waitFor(() => bGot.length === 1, 3_000), 'the member got it');
    await sleep(500);
    assert.deepEqual(strangerGot, []);
    assert.deepEqual(stranger.connectedPeers(), []);
    assert.ok(!a.connectedPeers().includes(stranger.peerId));
  });
});
