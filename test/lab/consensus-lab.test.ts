// The Raft subgroup and leader-only work on 3 lab hosts with real Docker: one
// leader with 3 voters, a ReplicaSet spread over the hosts, scheduling
// constraints, a killed worker's pods replaced on the survivors, a killed
// leader replaced, no duplicated allocation or doubled pod after a partition
// heals, and Secrets that reach a pod but never gossip or a data directory.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from '../support/agent-process.ts';
import { agentLogTail, BUSYBOX_IMAGE, labDown, labUp, type LabHost } from '../support/lab.ts';
import { agreedLeader, perNode, podsOf, raftOf, replicaSet, runningContainers, sleeperTemplate, waitForLeader } from '../support/lab-raft.ts';
import { readTaps } from '../support/traffic-tap.ts';

const run = Math.random().toString(36).slice(2, 7);
const RS_PATH = '/apis/apps/v1/namespaces/default/replicasets';
const PODS = '/api/v1/namespaces/default/pods';
const SVCS = '/api/v1/namespaces/default/services';

async function ok(h: LabHost, method: string, path: string, body?: unknown, contentType?: string): Promise<any> {
  const r = await h.api(method, path, body, contentType);
  assert.ok(r.status >= 200 && r.status < 300, `${method} ${path} on ${h.name}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

function byName(hosts: LabHost[], name: string): LabHost {
  const h = hosts.find((x) => x.name === name);
  assert.ok(h, `no lab host ${name}`);
  return h;
}

describe('consensus on 3 lab hosts', () => {
  let hosts: LabHost[] = [];
  let tapDir = '';

  before(async () => {
    // Every agent records its peer traffic, for the Secret test.
    tapDir = await mkdtemp(join(tmpdir(), 'mesh-tap-'));
    process.env.MESH_TRAFFIC_TAP = tapDir;
    hosts = await labUp(3);
  });
  after(async () => {
    delete process.env.MESH_TRAFFIC_TAP;
    await labDown();
    await rm(tapDir, { recursive: true, force: true });
  });

  it('forms one group of 3 voters with a leader every host agrees on', async (t) => {
    const leader = await waitForLeader(hosts, 3);
    const view = await raftOf(hosts[0]!);
    assert.deepEqual([...view!.voters].sort(), ['h1', 'h2', 'h3']);
    const r = await hosts[1]!.exec(['bin/mesh', 'status']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`leader ${leader}`));
    assert.match(r.stdout, /Leader-only work .*: running on/);
    t.diagnostic(`leader ${leader}, term ${view!.term}`);
  });

  it('spreads a ReplicaSet of 6 over the hosts, 2 on each', async () => {
    const [h1] = hosts as [LabHost];
    await ok(h1, 'POST', RS_PATH, replicaSet(`spread-${run}`, 6));
    const counts = await waitFor(
      'the 6 pods running',
      async () => {
        const c = perNode(await podsOf(h1, `app=spread-${run}`));
        return Object.values(c).reduce((a, b) => a + b, 0) === 6 ? c : undefined;
      },
      60_000,
    );
    assert.deepEqual(counts, { h1: 2, h2: 2, h3: 2 });
    const rs = await ok(h1, 'GET', `${RS_PATH}/spread-${run}`);
    await waitFor('ReplicaSet status to count 6 ready', async () => {
      const s = (await ok(h1, 'GET', `${RS_PATH}/spread-${run}`)).status;
      return s?.readyReplicas === 6 && s?.replicas === 6;
    }, 30_000);
    assert.equal(rs.spec.replicas, 6);
    await ok(h1, 'DELETE', `${RS_PATH}/spread-${run}`);
    await waitFor('the spread pods gone', async () => (await podsOf(h1, `app=spread-${run}`)).length === 0, 60_000);
  });

  it('honours scheduling constraints on real hosts', async () => {
    const [h1] = hosts as [LabHost];
    const tag = `sched-${run}`;
    await ok(h1, 'PATCH', '/api/v1/nodes/h2', { metadata: { labels: { [`disk-${run}`]: 'ssd' } } }, 'application/merge-patch+json');
    await ok(h1, 'PATCH', '/api/v1/nodes/h3', { spec: { taints: [{ key: `dedicated-${run}`, value: 'gpu', effect: 'NoSchedule' }] } }, 'application/merge-patch+json');
    const pod = (name: string, labels: Record<string, string>, extra: Record<string, unknown>) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `${tag}-${name}`, namespace: 'default', labels: { tag, ...labels } },
      spec: sleeperTemplate({}, extra).spec,
    });
    const onlyH3 = { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['h3'] }] }] };
    const cases: { name: string; labels?: Record<string, string>; spec: Record<string, unknown>; want: string | RegExp }[] = [
      { name: 'selector', spec: { nodeSelector: { [`disk-${run}`]: 'ssd' } }, want: 'h2' },
      { name: 'node-name', spec: { nodeName: 'h1' }, want: 'h1' },
      { name: 'taint-refused', spec: { affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: onlyH3 } } }, want: /untolerated taint \{dedicated-.*: gpu\}/ },
      {
        name: 'taint-tolerated',
        spec: {
          affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: onlyH3 } },
          tolerations: [{ key: `dedicated-${run}`, operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }],
        },
        want: 'h3',
      },
      { name: 'too-much-cpu', spec: { containers: [{ name: 'main', image: BUSYBOX_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'], resources: { requests: { cpu: '500' } } }] }, want: /Insufficient cpu/ },
      { name: 'gpu', spec: { containers: [{ name: 'main', image: BUSYBOX_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'], resources: { limits: { 'nvidia.com/gpu': '1' } } }] }, want: /Insufficient nvidia\.com\/gpu/ },
    ];
    for (const c of cases) await ok(h1, 'POST', PODS, pod(c.name, c.labels ?? {}, c.spec));
    // Anti-affinity on hostname: 3 pods on 3 different hosts (h3 tolerated), a 4th can't fit.
    const anti = (i: number) =>
      pod(`anti-${i}`, { anti: tag }, {
        tolerations: [{ operator: 'Exists' }],
        affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { anti: tag } } }] } },
      });
    for (let i = 0; i < 4; i++) await ok(h1, 'POST', PODS, anti(i));
    // Affinity: follows the pod that sits on h2.
    await ok(h1, 'POST', PODS, pod('follow', {}, {
      affinity: { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { tag } }, namespaces: ['default'] }] } },
      nodeSelector: { [`disk-${run}`]: 'ssd' },
    }));
    // Host ports: one per host and protocol.
    const hostPort = (i: number) =>
      pod(`port-${i}`, {}, {
        tolerations: [{ operator: 'Exists' }],
        containers: [{ name: 'main', image: BUSYBOX_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'], ports: [{ containerPort: 80, hostPort: 18080 }] }],
      });
    for (let i = 0; i < 4; i++) await ok(h1, 'POST', PODS, hostPort(i));
    // Topology spread over hostname, maxSkew 1: 3 pods land one per host.
    const spread = (i: number) =>
      pod(`spread-${i}`, { spread: tag }, {
        tolerations: [{ operator: 'Exists' }],
        topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { spread: tag } } }],
      });
    for (let i = 0; i < 3; i++) await ok(h1, 'POST', PODS, spread(i));

    const settle = async () => {
      const pods = await podsOf(h1, `tag=${tag}`);
      return pods.length === cases.length + 4 + 1 + 4 + 3 && pods.every((p) => p.nodeName || p.scheduledMessage) ? pods : undefined;
    };
    const pods = await waitFor('every constraint pod bound or reported unschedulable', settle, 60_000);
    const get = (n: string) => pods.find((p) => p.name === `${tag}-${n}`)!;
    for (const c of cases) {
      const p = get(c.name);
      if (typeof c.want === 'string') assert.equal(p.nodeName, c.want, `${c.name}: ${JSON.stringify(p)}`);
      else {
        assert.equal(p.nodeName, undefined, `${c.name} should not be bound: ${JSON.stringify(p)}`);
        assert.match(p.scheduledMessage ?? '', c.want, `${c.name}`);
      }
    }
    const antiNodes = [0, 1, 2, 3].map((i) => get(`anti-${i}`).nodeName).filter(Boolean);
    assert.equal(new Set(antiNodes).size, 3, `anti-affinity pods share a host: ${antiNodes}`);
    assert.equal(antiNodes.length, 3, 'a 4th anti-affinity pod found a host');
    assert.match([0, 1, 2, 3].map((i) => get(`anti-${i}`).scheduledMessage ?? '').join(' '), /anti-affinity/);
    assert.equal(get('follow').nodeName, 'h2');
    const portNodes = [0, 1, 2, 3].map((i) => get(`port-${i}`).nodeName).filter(Boolean);
    assert.equal(new Set(portNodes).size, 3, `two pods with hostPort 18080 share a host: ${portNodes}`);
    assert.match([0, 1, 2, 3].map((i) => get(`port-${i}`).scheduledMessage ?? '').join(' '), /free ports/);
    assert.deepEqual([0, 1, 2].map((i) => get(`spread-${i}`).nodeName).sort(), ['h1', 'h2', 'h3']);

    await ok(h1, 'DELETE', `${PODS}?labelSelector=tag%3D${tag}`);
    await ok(h1, 'PATCH', '/api/v1/nodes/h2', { metadata: { labels: { [`disk-${run}`]: null } } }, 'application/merge-patch+json');
    await ok(h1, 'PATCH', '/api/v1/nodes/h3', { spec: { taints: null } }, 'application/merge-patch+json');
    await waitFor('the constraint pods gone', async () => (await podsOf(h1, `tag=${tag}`)).length === 0, 60_000);
  });

  it('replaces the pods of a killed worker host on the survivors', async (t) => {
    const leader = await waitForLeader(hosts, 3);
    const name = `recover-${run}`;
    const api = byName(hosts, leader);
    await ok(api, 'POST', RS_PATH, replicaSet(name, 6));
    await waitFor('6 running', async () => Object.values(perNode(await podsOf(api, `app=${name}`))).reduce((a, b) => a + b, 0) === 6, 60_000);
    const victim = hosts.find((h) => h.name !== leader)!;
    const survivors = hosts.filter((h) => h !== victim);
    // The host dies: its agent and every container on it.
    await victim.cut();
    await victim.kill9();
    const killedAt = Date.now();
    await victim.docker(['rm', '-f', ...(await victim.docker(['ps', '-aq'])).stdout.split('\n').filter(Boolean)]);
    try {
      const counts = await waitFor(
        `6 pods running on ${survivors.map((h) => h.name).join(' and ')}`,
        async () => {
          const c = perNode(await podsOf(api, `app=${name}`));
          const total = Object.values(c).reduce((a, b) => a + b, 0);
          return total === 6 && !c[victim.name] ? c : undefined;
        },
        60_000,
      );
      t.diagnostic(`recovered in ${Date.now() - killedAt} ms: ${JSON.stringify(counts)} (goal 10 s; bench/consensus-lab.bench.ts measures it)`);
      const node = await ok(api, 'GET', `/api/v1/nodes/${victim.name}`);
      const taints = (node.spec.taints ?? []).map((x: any) => `${x.key}:${x.effect}`);
      assert.ok(taints.includes('node.kubernetes.io/unreachable:NoExecute'), `taints of the dead node: ${taints}`);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- ${leader} log ---\n${await agentLogTail(api)}`);
    } finally {
      await victim.heal();
      await victim.start();
    }
    // Back up, the host owns none of them any more.
    await waitFor(`${victim.name} Ready again`, async () => {
      const n = await ok(api, 'GET', `/api/v1/nodes/${victim.name}`);
      return n.status.conditions.some((c: any) => c.type === 'Ready' && c.status === 'True') && !(n.spec.taints ?? []).length;
    }, 60_000);
    await waitFor('6 containers in all', async () => (await runningContainers(hosts, name)).length === 6, 60_000);
    await ok(api, 'DELETE', `${RS_PATH}/${name}`);
  });

  it('elects a new leader when the leader is killed, and scheduling resumes', async (t) => {
    const old = await waitForLeader(hosts, 3);
    const victim = byName(hosts, old);
    const rest = hosts.filter((h) => h !== victim);
    await victim.kill9();
    const killedAt = Date.now();
    try {
      const next = await waitFor('a new leader among the survivors', async () => {
        const l = await agreedLeader(rest);
        return l && l !== old ? l : undefined;
      }, 30_000);
      t.diagnostic(`new leader ${next} after ${Date.now() - killedAt} ms (goal 2 s; bench/consensus-lab.bench.ts measures it)`);
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: `after-failover-${run}`, namespace: 'default', labels: { app: `after-failover-${run}` } }, spec: sleeperTemplate({}).spec };
      await ok(rest[0]!, 'POST', PODS, pod);
      const bound = await waitFor('the new pod bound', async () => (await podsOf(rest[1]!, `app=after-failover-${run}`))[0]?.nodeName, 30_000);
      assert.notEqual(bound, old, 'bound to the dead host');
      await ok(rest[0]!, 'DELETE', `${PODS}/after-failover-${run}`);
    } finally {
      await victim.start();
    }
    await waitForLeader(hosts, 3);
  });

  it('duplicates no allocation and runs no pod twice after a partition heals', async () => {
    const leader = await waitForLeader(hosts, 3);
    const minority = hosts.find((h) => h.name !== leader)!;
    const majority = hosts.filter((h) => h !== minority);
    const name = `part-${run}`;
    await ok(majority[0]!, 'POST', RS_PATH, replicaSet(name, 6));
    await waitFor('6 running', async () => Object.values(perNode(await podsOf(majority[0]!, `app=${name}`))).reduce((a, b) => a + b, 0) === 6, 60_000);
    const service = (svc: string) => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: svc, namespace: 'default' },
      spec: { type: 'NodePort', selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }] },
    });
    await minority.cut();
    try {
      // Both sides take writes; only the side with the leader allocates.
      for (let i = 0; i < 3; i++) {
        await ok(majority[i % 2]!, 'POST', SVCS, service(`${name}-maj-${i}`));
        await ok(minority, 'POST', SVCS, service(`${name}-min-${i}`));
      }
      // Within an election timeout the cut host knows it has no leader.
      await waitFor('the cut host to see no quorum', async () => (await raftOf(minority))?.quorum === false, 10_000);
      const r = await minority.exec(['bin/mesh', 'status']);
      assert.match(r.stdout, /PAUSED: no Raft quorum/);
      await waitFor('majority services allocated', async () => {
        const items = (await ok(majority[0]!, 'GET', SVCS)).items as any[];
        return items.filter((s) => s.metadata.name.startsWith(`${name}-maj-`) && s.spec.clusterIP && s.spec.ports[0].nodePort).length === 3;
      }, 30_000);
      const minSvc = (await ok(minority, 'GET', `${SVCS}/${name}-min-0`)).spec;
      assert.ok(!minSvc.clusterIP, `the minority allocated ${minSvc.clusterIP} without a quorum`);
      // The majority replaces the cut host's pods.
      await waitFor('6 running on the majority', async () => {
        const c = perNode(await podsOf(majority[0]!, `app=${name}`));
        return !c[minority.name] && Object.values(c).reduce((a, b) => a + b, 0) === 6;
      }, 60_000);
    } finally {
      await minority.heal();
    }
    await waitFor('every service allocated after the heal', async () => {
      const items = ((await ok(minority, 'GET', SVCS)).items as any[]).filter((s) => s.metadata.name.startsWith(`${name}-`));
      return items.length === 6 && items.every((s) => s.spec.clusterIP && s.spec.ports[0].nodePort);
    }, 60_000);
    for (const h of hosts) {
      const items = ((await ok(h, 'GET', SVCS)).items as any[]);
      const ips = items.map((s) => s.spec.clusterIP).filter((ip) => ip && ip !== 'None');
      const ports = items.flatMap((s) => (s.spec.ports ?? []).map((p: any) => p.nodePort)).filter(Boolean);
      assert.equal(new Set(ips).size, ips.length, `duplicate ClusterIPs on ${h.name}: ${ips}`);
      assert.equal(new Set(ports).size, ports.length, `duplicate NodePorts on ${h.name}: ${ports}`);
    }
    // The healed host drops the pods it no longer owns: one container per replica slot.
    await waitFor('exactly 6 containers, one per pod', async () => {
      const running = await runningContainers(hosts, name);
      return running.length === 6 && new Set(running.map((r) => r.pod)).size === 6 ? running : undefined;
    }, 60_000);
    await ok(majority[0]!, 'DELETE', `${RS_PATH}/${name}`);
    for (let i = 0; i < 3; i++) {
      await ok(majority[0]!, 'DELETE', `${SVCS}/${name}-maj-${i}`);
      await ok(majority[0]!, 'DELETE', `${SVCS}/${name}-min-${i}`);
    }
  });

  it('delivers a Secret to a pod, and its value is in no gossip and no data directory', async () => {
    const [h1, h2, h3] = hosts as [LabHost, LabHost, LabHost];
    const value = `s3cr3t-${run}-${Math.random().toString(36).slice(2, 14)}`;
    const control = `plain-${run}-${Math.random().toString(36).slice(2, 14)}`;
    // Written through a follower or the leader alike; the ConfigMap is the control: the same checks must find it.
    await ok(h2, 'POST', '/api/v1/namespaces/default/secrets', { apiVersion: 'v1', kind: 'Secret', metadata: { name: `db-${run}` }, stringData: { password: value } });
    await ok(h2, 'POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `ctl-${run}` }, data: { v: control } });
    const got = await ok(h3, 'GET', `/api/v1/namespaces/default/secrets/db-${run}`);
    assert.equal(Buffer.from(got.data.password, 'base64').toString(), value);
    await ok(h1, 'POST', PODS, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `reader-${run}`, namespace: 'default' },
      spec: {
        nodeName: 'h3',
        restartPolicy: 'Never',
        containers: [{
          name: 'main',
          image: BUSYBOX_IMAGE,
          imagePullPolicy: 'IfNotPresent',
          command: ['sh', '-c', 'echo "password=$PASSWORD"; sleep 3600'],
          env: [{ name: 'PASSWORD', valueFrom: { secretKeyRef: { name: `db-${run}`, key: 'password' } } }],
        }],
      },
    });
    try {
      await waitFor('the pod to print the secret', async () => {
        const r = await h1.api('GET', `${PODS}/reader-${run}/log`);
        return r.status === 200 && String(r.body).includes(`password=${value}`);
      }, 60_000);
    } catch (err) {
      const pod = await h1.api('GET', `${PODS}/reader-${run}`);
      throw new Error(`${(err as Error).message}\npod: ${JSON.stringify(pod.body.status)}\n--- h3 log ---\n${await agentLogTail(h3)}`);
    }

    // Give gossip and anti-entropy a moment to carry everything they would carry.
    await new Promise((r) => setTimeout(r, 3000));
    const taps = await readTaps(tapDir);
    assert.ok(taps.length > 100, `only ${taps.length} tapped messages`);
    assert.ok(taps.some((m) => m.text.includes(control)), 'the control value is not in the tapped gossip: the check is blind');
    const leaks = taps.filter((m) => m.text.includes(value));
    assert.deepEqual(leaks.map((m) => `${m.node} ${m.direction} ${m.kind} ${m.channel}`), [], 'the secret value crossed the wire in plain text');
    const grep = promisify(execFile);
    const search = async (needle: string) => {
      try {
        // The agents' data directories (store, Raft log, PKI); Docker's own are not Mesh's to judge.
        return (await grep('grep', ['-rlaF', needle, ...hosts.map((h) => h.dataDir)])).stdout.trim();
      } catch (err) {
        if ((err as { code?: number }).code === 1) return '';
        throw err;
      }
    };
    assert.notEqual(await search(control), '', 'grep does not find the control value in the data directories: the check is blind');
    assert.equal(await search(value), '', 'the secret value is on disk in plain text');
    await ok(h1, 'DELETE', `${PODS}/reader-${run}`);
  });
});
