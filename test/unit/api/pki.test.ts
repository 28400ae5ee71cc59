import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ensurePki } from '../../../src/agent/api/pki.ts';
import { renderKubeconfig } from '../../../src/agent/api/kubeconfig.ts';

test('ensurePki generates a CA, serving and admin certificates once and reuses them', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mesh-pki-'));
  try {
    const first = await ensurePki(dir, { extraNames: ['mesh.example', '10.9.8.7'] });
    const ca = new X509Certificate(first.caCertPem);
    const server = new X509Certificate(first.serverCertPem);
    const admin = new X509Certificate(first.adminCertPem);
    assert.ok(ca.ca, 'the CA certificate is a CA');
    assert.ok(server.verify(ca.publicKey), 'the serving certificate is signed by the CA');
    assert.ok(admin.verify(ca.publicKey), 'the admin certificate is signed by the CA');
    assert.equal(ca.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    for (const name of ['localhost', hostname().toLowerCase(), 'mesh.example']) assert.ok(server.checkHost(name), name);
    for (const ip of ['127.0.0.1', '::1', '10.9.8.7']) assert.ok(server.checkIP(ip), ip);
    assert.match(admin.subject, /CN=mesh-admin/);
    assert.match(admin.subject, /O=system:masters/);
    assert.ok(first.adminToken.length >= 32);
    for (const f of ['ca.key', 'apiserver.key', 'admin.key', 'admin.token']) {
      assert.equal((await stat(join(dir, f))).mode & 0o777, 0o600, f);
    }

    const second = await ensurePki(dir, { extraNames: ['mesh.example', '10.9.8.7'] });
    assert.deepEqual(second, first, 'a later start reuses everything');

    const third = await ensurePki(dir, { extraNames: ['other.example'] });
    assert.equal(third.caCertPem, first.caCertPem, 'the CA survives a new name');
    assert.equal(third.adminToken, first.adminToken);
    assert.notEqual(third.serverCertPem, first.serverCertPem, 'a missing name reissues the serving certificate');
    assert.ok(new X509Certificate(third.serverCertPem).checkHost('other.example'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('renderKubeconfig writes base64 credentials and a current mesh context', () => {
  const text = renderKubeconfig({
    server: 'https://127.0.0.1:6443',
    caPem: 'CA PEM',
    clientCertPem: 'CERT PEM',
    clientKeyPem: 'KEY PEM',
    token: 'tok',
    clusterName: 'mesh',
    userName: 'mesh-admin',
  });
  const cfg = parse(text);
  assert.equal(cfg.kind, 'Config');
  assert.equal(cfg['current-context'], 'mesh');
  assert.deepEqual(cfg.contexts, [{ name: 'mesh', context: { cluster: 'mesh', user: 'mesh-admin' } }]);
  assert.equal(cfg.clusters[0].cluster.server, 'https://127.0.0.1:6443');
  assert.equal(Buffer.from(cfg.clusters[0].cluster['certificate-authority-data'], 'base64').toString(), 'CA PEM');
  assert.equal(Buffer.from(cfg.users[0].user['client-certificate-data'], 'base64').toString(), 'CERT PEM');
  assert.equal(Buffer.from(cfg.users[0].user['client-key-data'], 'base64').toString(), 'KEY PEM');
  assert.equal(cfg.users[0].user.token, 'tok');
  const tokenOnly = parse(renderKubeconfig({ server: 's', caPem: 'c', token: 't', clusterName: 'x', userName: 'u' }));
  assert.deepEqual(tokenOnly.users[0].user, { token: 't' });
});
