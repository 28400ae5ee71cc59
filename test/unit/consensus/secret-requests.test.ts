import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { silentLogger } from '../../../src/agent/logger.ts';
import type { Pod } from '../../../src/agent/api/object-types.ts';
import { Forbidden, NotLeader } from '../../../src/agent/api/errors.ts';
import { nodeMayReadSecret, secretsReferencedBy } from '../../../src/agent/api/secret-references.ts';
import { createClusterFsm } from '../../../src/consensus/cluster-fsm.ts';
import { createSecretSealer } from '../../../src/consensus/secret-crypto.ts';
import { createPodSecretFetcher } from '../../../src/consensus/secret-reader.ts';
import { SECRET_POD_FETCH, createSecretRequestHandler, decodeSecretAnswer } from '../../../src/consensus/secret-requests.ts';
import { UnknownRequestKind } from '../../../src/consensus/raft-node.ts';
import { createMemoryRaftNetwork } from '../../../src/consensus/memory-raft-transport.ts';
import { createFakeRaftNode } from '../../support/fake-raft-node.ts';

function pod(name: string, node: string | undefined, spec: Partial<Pod['spec']> & Record<string, unknown>, extra: Partial<Pod> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'prod' },
    spec: { nodeName: node, containers: [], ...spec } as Pod['spec'],
    ...extra,
  };
}

const envPod = pod('web', 'node-b', { containers: [{ name: 'c', image: 'i', env: [{ name: 'P', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }] }] });

describe('secretsReferencedBy', () => {
  it('lists env, envFrom, volumes, projected volumes and pull secrets of every container kind, once each, sorted', () => {
    const p = pod('all', 'n', {
      containers: [
        { name: 'a', image: 'i', env: [{ name: 'X', valueFrom: { secretKeyRef: { name: 'env-ref', key: 'k' } } }, { name: 'Y', value: 'plain' }] },
        { name: 'b', image: 'i', envFrom: [{ secretRef: { name: 'env-from' } }, { configMapRef: { name: 'not-a-secret' } }] },
      ],
      initContainers: [{ name: 'init', image: 'i', env: [{ name: 'Z', valueFrom: { secretKeyRef: { name: 'init-ref', key: 'k' } } }] }],
      ephemeralContainers: [{ name: 'dbg', image: 'i', envFrom: [{ secretRef: { name: 'debug-ref' } }] }],
      volumes: [
        { name: 'v1', secret: { secretName: 'vol' } },
        { name: 'v2', projected: { sources: [{ secret: { name: 'projected' } }, { configMap: { name: 'cm' } }] } },
        { name: 'v3', configMap: { name: 'cm' } },
      ],
      imagePullSecrets: [{ name: 'pull' }, { name: 'vol' }],
    });
    assert.deepEqual(secretsReferencedBy(p), ['debug-ref', 'env-from', 'env-ref', 'init-ref', 'projected', 'pull', 'vol']);
    assert.deepEqual(secretsReferencedBy(pod('none', 'n', { containers: [{ name: 'c', image: 'i' }] })), []);
  });

  it('lets a node read a secret only through an unfinished pod bound to it in the same namespace', () => {
    assert.equal(nodeMayReadSecret([envPod], 'node-b', 'prod', 'db'), true);
    assert.equal(nodeMayReadSecret([envPod], 'node-c', 'prod', 'db'), false, 'another node');
    assert.equal(nodeMayReadSecret([envPod], 'node-b', 'prod', 'other'), false, 'a secret the pod does not use');
    assert.equal(nodeMayReadSecret([envPod], 'node-b', 'dev', 'db'), false, 'another namespace');
    assert.equal(nodeMayReadSecret([{ ...envPod, spec: { ...envPod.spec, nodeName: undefined } }], 'node-b', 'prod', 'db'), false, 'unbound');
    assert.equal(nodeMayReadSecret([{ ...envPod, status: { phase: 'Succeeded' } }], 'node-b', 'prod', 'db'), false, 'finished');
  });
});

describe('secret fetches through the leader', () => {
  async function setup() {
    const fsm = createClusterFsm();
    const psk = new Uint8Array(randomBytes(32));
    const sealer = createSecretSealer(psk);
    const data = { password: Buffer.from('s3cret').toString('base64') };
    fsm.apply(JSON.stringify({ type: 'put-secret', namespace: 'prod', name: 'db', uid: 'u-db', sealed: sealer.seal('prod', 'db', JSON.stringify(data)) }), { index: 1, term: 1 });
    fsm.apply(JSON.stringify({ type: 'put-secret', namespace: 'prod', name: 'other', uid: 'u-o', sealed: sealer.seal('prod', 'other', '{}') }), { index: 2, term: 1 });
    const pods: Pod[] = [envPod];
    const leaderRaft = createFakeRaftNode({ fsm, id: 'leader' });
    const handler = createSecretRequestHandler({ raftNode: leaderRaft, fsm, pods: () => pods, logger: silentLogger() });
    const net = createMemoryRaftNetwork();
    net.transport('leader').onRequest(handler);
    const fetcherFor = (node: string) => {
      const raft = createFakeRaftNode({ fsm, id: node, leading: false, inGroup: false });
      raft.setLeader('leader');
      return { raft, fetch: createPodSecretFetcher({ nodeName: node, raftNode: raft, transport: net.transport(node), sealer, localHandler: handler }) };
    };
    return { fsm, sealer, data, pods, leaderRaft, handler, fetcherFor };
  }

  it('gives a node the secrets its pods use, and Forbidden for the rest', async () => {
    const s = await setup();
    const b = s.fetcherFor('node-b');
    const got = await b.fetch('prod', ['db']);
    assert.deepEqual(got.get('db')?.data, s.data);
    assert.equal(got.get('db')?.uid, 'u-db');
    await assert.rejects(b.fetch('prod', ['db', 'other']), (err: unknown) => err instanceof Forbidden && /prod\/other/.test(err.message));
    await assert.rejects(s.fetcherFor('node-c').fetch('prod', ['db']), (err: unknown) => err instanceof Forbidden && /node "node-c"/.test(err.message));
    // Once the pod is gone from the leader's store, so is the access.
    s.pods.length = 0;
    await assert.rejects(b.fetch('prod', ['db']), Forbidden);
  });

  it('answers a referenced but missing secret as absent, and passes other kinds on', async () => {
    const s = await setup();
    s.pods.push(pod('x', 'node-b', { containers: [{ name: 'c', image: 'i', envFrom: [{ secretRef: { name: 'missing', optional: true } }] }] }));
    const got = await s.fetcherFor('node-b').fetch('prod', ['missing']);
    assert.equal(got.size, 0);
    await assert.rejects(s.handler('node-b', 'propose', '{}'), UnknownRequestKind);
    assert.throws(() => decodeSecretAnswer('not json', 1), /not JSON/);
    const malformed = await s.handler('node-b', SECRET_POD_FETCH, JSON.stringify({ namespace: 'prod' }));
    assert.throws(() => decodeSecretAnswer(malformed, 0), /malformed request/);
  });

  it('is served locally when this node leads, and is 503 without a leader or quorum', async () => {
    const s = await setup();
    s.pods.push(pod('own', 'leader', { containers: [{ name: 'c', image: 'i', envFrom: [{ secretRef: { name: 'other' } }] }] }));
    const self = createPodSecretFetcher({
      nodeName: 'leader',
      raftNode: s.leaderRaft,
      transport: { request: async () => assert.fail('the leader does not dial itself') },
      sealer: s.sealer,
      localHandler: s.handler,
    });
    assert.deepEqual((await self('prod', ['other'])).get('other')?.data, {});
    const b = s.fetcherFor('node-b');
    b.raft.setLeader(undefined);
    await assert.rejects(b.fetch('prod', ['db']), (err: unknown) => err instanceof NotLeader && /secrets need the Raft quorum/.test(err.message));
    b.raft.setLeader('leader');
    s.leaderRaft.setQuorum(false);
    await assert.rejects(b.fetch('prod', ['db']), (err: unknown) => err instanceof NotLeader && /secrets need the Raft quorum/.test(err.message));
  });
});
