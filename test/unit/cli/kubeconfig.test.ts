import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderKubeconfig } from '../../../src/agent/api/kubeconfig.ts';
import { kubeconfigPath, loadKubeconfig, parseKubeconfig } from '../../../src/cli/kubeconfig.ts';
import { CliError } from '../../../src/cli/cli-error.ts';

test('parses what the agent renders: server, CA, client cert and key', () => {
  const text = renderKubeconfig({
    server: 'https://127.0.0.1:6443/',
    caPem: 'CA-PEM',
    clientCertPem: 'CERT-PEM',
    clientKeyPem: 'KEY-PEM',
    clusterName: 'mesh',
    userName: 'admin',
  });
  const { config } = parseKubeconfig(text);
  assert.equal(config.server, 'https://127.0.0.1:6443');
  assert.equal(config.ca?.toString(), 'CA-PEM');
  assert.equal(config.cert?.toString(), 'CERT-PEM');
  assert.equal(config.key?.toString(), 'KEY-PEM');
  assert.equal(config.namespace, 'default');
  assert.equal(config.contextName, 'mesh');
});

const twoContexts = `
apiVersion: v1
kind: Config
current-context: a
clusters:
- name: c1
  cluster: { server: https://10.0.0.1:6443, insecure-skip-tls-verify: true }
- name: c2
  cluster: { server: https://10.0.0.2:6443, certificate-authority: ca.crt }
users:
- name: u1
  user: { token: abc }
contexts:
- name: a
  context: { cluster: c1, user: u1, namespace: team }
- name: b
  context: { cluster: c2, user: u1 }
`;

test('selects the current context, or the one asked for', () => {
  const a = parseKubeconfig(twoContexts).config;
  assert.equal(a.server, 'https://10.0.0.1:6443');
  assert.equal(a.token, 'abc');
  assert.equal(a.namespace, 'team');
  assert.equal(a.insecureSkipTlsVerify, true);
  const b = parseKubeconfig(twoContexts, { context: 'b' });
  assert.equal(b.config.server, 'https://10.0.0.2:6443');
  assert.equal(b.config.namespace, 'default');
  assert.equal(b.files.ca, 'ca.crt');
});

test('missing context or cluster gives a clear CliError', () => {
  assert.throws(() => parseKubeconfig(twoContexts, { context: 'zzz' }), (e: unknown) => e instanceof CliError && /context "zzz" not found/.test(e.message));
  assert.throws(() => parseKubeconfig('kind: Config\n'), /no current-context/);
  assert.throws(() => parseKubeconfig('a: [', { source: 'x.yaml' }), /x.yaml: not valid YAML/);
});

test('loadKubeconfig reads referenced files relative to the kubeconfig', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mesh-kc-'));
  try {
    await writeFile(join(dir, 'ca.crt'), 'FILE-CA');
    await writeFile(join(dir, 'config'), twoContexts);
    const cfg = await loadKubeconfig(join(dir, 'config'), 'b');
    assert.equal(cfg.ca?.toString(), 'FILE-CA');
    await assert.rejects(loadKubeconfig(join(dir, 'nope')), /not found: start an agent/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('kubeconfig path: flag, then $KUBECONFIG first entry, then the local agent', () => {
  assert.equal(kubeconfigPath({ flag: '/f', env: '/e', localAdmin: '/l' }), '/f');
  assert.equal(kubeconfigPath({ env: '/e1:/e2', localAdmin: '/l' }), '/e1');
  assert.equal(kubeconfigPath({ env: '', localAdmin: '/l' }), '/l');
});
