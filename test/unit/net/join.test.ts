// The join protocol between real hosts: the bundle, the files it leaves, the CA pin.
import assert from 'node:assert/strict';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../../../src/agent/logger.ts';
import { ensurePki } from '../../../src/agent/api/pki.ts';
import { BadRequest } from '../../../src/agent/api/errors.ts';
import { createJoinToken, parseJoinToken } from '../../../src/net/join-token.ts';
import { clusterToken, initCluster, joinCluster, serveJoin, toMultiaddr } from '../../../src/net/join.ts';
import { loadClusterConfig, pskFromConfig, rememberPeers, clusterConfigPath } from '../../../src/net/cluster-config.ts';
import { JoinRefused, PeerUnreachable } from '../../../src/net/errors.ts';
import { createHarness, newPsk } from './net-harness.ts';

const h = createHarness();
after(() => h.cleanup());

async function founder(clusterName = 'lab') {
  const dir = await h.tempDir();
  const { token, config } = await initCluster(dir, { clusterName, founder: 'founder' });
  const host = await h.host(pskFromConfig(config), dir);
  await serveJoin({
    host,
    dataDir: dir,
    members: () => [{ nodeName: 'founder', peerId: host.peerId, addrs: host.multiaddrs() }],
    logger: silentLogger(),
  });
  const port = Number(/\/tcp\/(\d+)\//.exec(host.multiaddrs()[0]!)![1]);
  return { dir, token, host, address: `127.0.0.1:${port}` };
}

async function listFiles(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).sort();
}

describe('join', () => {
  it('initCluster is idempotent and its token pins the CA in pki/', async () => {
    const dir = await h.tempDir();
    const first = await initCluster(dir, { clusterName: 'x', founder: 'founder' });
    const again = await initCluster(dir, { founder: 'founder' });
    assert.equal(again.token, first.token);
    assert.equal(await clusterToken(dir), first.token);
    const cfg = await loadClusterConfig(dir);
    assert.equal(cfg.clusterName, 'x');
    assert.deepEqual([...parseJoinToken(first.token).psk], [...pskFromConfig(cfg)]);
  });

  it('gives a joiner the bundle and leaves the files ensurePki builds on', async () => {
    const f = await founder();
    const joinerDir = await h.tempDir();
    const result = await joinCluster({ dataDir: joinerDir, token: f.token, address: f.address, nodeName: 'worker-1', logger: silentLogger() });
    assert.equal(result.clusterName, 'lab');
    assert.deepEqual(result.members.map((m) => m.peerId), [f.host.peerId]);

    for (const file of ['ca.crt', 'ca.key', 'admin.crt', 'admin.key', 'admin.token']) {
      assert.equal(
        await readFile(join(joinerDir, 'pki', file), 'utf8'),
        await readFile(join(f.dir, 'pki', file), 'utf8'),
        `${file} matches the founder's`,
      );
    }
    for (const secret of ['ca.key', 'admin.key', 'admin.token']) {
      assert.equal((await stat(join(joinerDir, 'pki', secret))).mode & 0o777, 0o600, `${secret} is owner-only`);
    }
    assert.equal((await stat(join(joinerDir, 'net', 'cluster.json'))).mode & 0o777, 0o600);
    const cfg = await loadClusterConfig(joinerDir);
    assert.equal(cfg.clusterName, 'lab');
    assert.deepEqual([...pskFromConfig(cfg)], [...parseJoinToken(f.token).psk]);
    assert.ok(cfg.knownPeers.includes(`/ip4/${f.address.replace(':', '/tcp/')}/p2p/${f.host.peerId}`), cfg.knownPeers.join());
    assert.ok(cfg.knownPeers.includes(f.host.multiaddrs()[0]!));

    // The joiner's own serving certificate comes from the shared CA.
    const pki = await ensurePki(join(joinerDir, 'pki'));
    const founderCa = await readFile(join(f.dir, 'pki', 'ca.crt'), 'utf8');
    assert.equal(pki.caCertPem, founderCa);
    assert.ok(new X509Certificate(pki.serverCertPem).verify(new X509Certificate(founderCa).publicKey));
    assert.notEqual(pki.serverCertPem, await readFile(join(f.dir, 'pki', 'apiserver.crt'), 'utf8'));

    // The join persisted the peer key it used, so the agent keeps that identity.
    const names = await listFiles(joinerDir);
    assert.ok(names.includes(join('net', 'peer.key')), names.join());
  });

  it('refuses a cluster whose CA differs from the token and writes nothing', async () => {
    const f = await founder();
    const otherCa = (await ensurePki(await h.tempDir())).caCertPem;
    const forged = createJoinToken(parseJoinToken(f.token).psk, otherCa);
    const joinerDir = await h.tempDir();
    await assert.rejects(
      joinCluster({ dataDir: joinerDir, token: forged, address: f.address, nodeName: 'worker-2', logger: silentLogger() }),
      (err: Error) => err instanceof JoinRefused && /token pins/.test(err.message),
    );
    assert.deepEqual(await listFiles(joinerDir), []);
  });

  it('cannot reach the cluster with a token of another key', async () => {
    const f = await founder();
    const caPem = await readFile(join(f.dir, 'pki', 'ca.crt'), 'utf8');
    const wrongKey = createJoinToken(newPsk(), caPem);
    const joinerDir = await h.tempDir();
    await assert.rejects(
      joinCluster({ dataDir: joinerDir, token: wrongKey, address: f.address, nodeName: 'worker-3', logger: silentLogger(), timeoutMs: 1_500 }),
      (err: Error) => err instanceof PeerUnreachable && /is the token right/.test(err.message),
    );
    assert.deepEqual(await listFiles(joinerDir), []);
  });

  it('refuses a node name that a member already uses', async () => {
    const f = await founder();
    const joinerDir = await h.tempDir();
    await assert.rejects(
      joinCluster({ dataDir: joinerDir, token: f.token, address: f.address, nodeName: 'founder', logger: silentLogger() }),
      (err: Error) => err instanceof JoinRefused && /"founder" is already used/.test(err.message),
    );
    assert.deepEqual(await listFiles(joinerDir), []);
  });

  it('remembers peer addresses in cluster.json and rejects a corrupt one', async () => {
    const dir = await h.tempDir();
    await initCluster(dir, { founder: 'founder' });
    await rememberPeers(dir, ['/ip4/10.0.0.1/tcp/7946/p2p/A', '/ip4/10.0.0.2/tcp/7946/p2p/B']);
    await rememberPeers(dir, ['/ip4/10.0.0.1/tcp/7946/p2p/A', '/ip4/10.0.0.3/tcp/7946/p2p/C']);
    assert.deepEqual((await loadClusterConfig(dir)).knownPeers, [
      '/ip4/10.0.0.2/tcp/7946/p2p/B',
      '/ip4/10.0.0.1/tcp/7946/p2p/A',
      '/ip4/10.0.0.3/tcp/7946/p2p/C',
    ]);
    await writeFile(clusterConfigPath(dir), JSON.stringify({ clusterName: 'x', pskHex: 'abc', knownPeers: [] }));
    await assert.rejects(loadClusterConfig(dir), /pskHex: must be 64 lower-case hex digits/);
  });

  it('parses join addresses', () => {
    assert.equal(toMultiaddr('10.0.0.1:7000'), '/ip4/10.0.0.1/tcp/7000');
    assert.equal(toMultiaddr('10.0.0.1'), '/ip4/10.0.0.1/tcp/7946');
    assert.equal(toMultiaddr('[::1]:7000'), '/ip6/::1/tcp/7000');
    assert.equal(toMultiaddr('node-a.lan:7000'), '/dns/node-a.lan/tcp/7000');
    assert.equal(toMultiaddr('/ip4/1.2.3.4/tcp/1'), '/ip4/1.2.3.4/tcp/1');
    assert.throws(() => toMultiaddr('host:99999'), BadRequest);
    assert.throws(() => toMultiaddr('bad host:1'), BadRequest);
  });
});
