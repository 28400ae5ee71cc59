// Workload controllers on the 3-host lab (real agents, one dockerd per host):
// - rolling update: a Deployment's template changes until its status says every
//   replica is updated and available (the condition `kubectl rollout status` waits for);
// - StatefulSet start: created until all ordinals are Ready, OrderedReady (with a
//   local-path claim per ordinal) and Parallel;
// - StatefulSet failover: a host running an ordinal of a StatefulSet without
//   claims dies (link cut, agent killed, containers removed) until that ordinal runs
//   again elsewhere. Kubernetes leaves such a pod Terminating until someone deletes
//   the node or force-deletes the pod.
// Run (as root): node bench/workloads-lab.bench.ts [replicas=6] [rollouts=3] [failovers=2]
// Brings the lab up if it is not, and takes it down again only if it did.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BUSYBOX_IMAGE, LAB_RUN, labDown, labUp, type LabHost } from '../test/support/lab.ts';
import { podsOf, waitForLeader } from '../test/support/lab-raft.ts';

const replicas = Number(process.argv[2] ?? 6);
const rollouts = Number(process.argv[3] ?? 3);
const failovers = Number(process.argv[4] ?? 2);
const broughtUp = !existsSync(join(LAB_RUN, 'h1'));
const hosts = await labUp(3);
const h1 = hosts[0]!;
const run = Math.random().toString(36).slice(2, 7);
const NS = 'default';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const secs = (xs: number[]) => xs.map((x) => (x / 1000).toFixed(1)).join(' / ') + ' s';

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

async function ok(h: LabHost, method: string, path: string, body?: unknown, contentType?: string): Promise<any> {
  const r = await h.api(method, path, body, contentType);
  if (r.status < 200 || r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

function template(app: string, extra: Record<string, unknown> = {}) {
  return {
    metadata: { labels: { app } },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [{
        name: 'main',
        image: BUSYBOX_IMAGE,
        imagePullPolicy: 'IfNotPresent',
        command: ['sh', '-c', 'touch /tmp/ready; exec sleep 3600'],
        env: [{ name: 'ROUND', value: '0' }],
        readinessProbe: { exec: { command: ['test', '-f', '/tmp/ready'] }, periodSeconds: 1 },
        ...extra,
      }],
    },
  };
}

const rolledOut = (d: any) =>
  d.status?.observedGeneration >= d.metadata.generation &&
  d.status.updatedReplicas === d.spec.replicas &&
  d.status.replicas === d.spec.replicas &&
  d.status.availableReplicas === d.spec.replicas;

try {
  await waitForLeader(hosts, 3);

  // Rolling updates (default strategy: 25 % surge and unavailable).
  const web = `bench-web-${run}`;
  const deploys = `/apis/apps/v1/namespaces/${NS}/deployments`;
  await ok(h1, 'POST', deploys, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: web }, spec: { replicas, selector: { matchLabels: { app: web } }, template: template(web) } });
  await until('the Deployment rolled out', async () => rolledOut(await ok(h1, 'GET', `${deploys}/${web}`)), 120_000);
  const rolls: number[] = [];
  for (let i = 1; i <= rollouts; i++) {
    const t0 = Date.now();
    await ok(h1, 'PATCH', `${deploys}/${web}`, { spec: { template: { spec: { containers: [{ name: 'main', env: [{ name: 'ROUND', value: String(i) }] }] } } } }, 'application/strategic-merge-patch+json');
    await until(`rollout ${i}`, async () => rolledOut(await ok(h1, 'GET', `${deploys}/${web}`)), 180_000);
    rolls.push(Date.now() - t0);
  }
  console.log(`rolling update of ${replicas} replicas, patch -> rolled out: ${secs(rolls)}`);
  await ok(h1, 'DELETE', `${deploys}/${web}`);

  // StatefulSet start, both pod management policies.
  const sets = `/apis/apps/v1/namespaces/${NS}/statefulsets`;
  for (const [policy, claims] of [['OrderedReady', true], ['Parallel', false]] as const) {
    const name = `bench-${policy.toLowerCase()}-${run}`;
    const t0 = Date.now();
    await ok(h1, 'POST', sets, {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name },
      spec: {
        replicas: 3,
        serviceName: name,
        podManagementPolicy: policy,
        selector: { matchLabels: { app: name } },
        template: template(name, claims ? { volumeMounts: [{ name: 'data', mountPath: '/data' }] } : {}),
        ...(claims ? { volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '16Mi' } } } }] } : {}),
      },
    });
    await until(`${name} ready`, async () => (await ok(h1, 'GET', `${sets}/${name}`)).status?.readyReplicas === 3, 180_000);
    console.log(`StatefulSet of 3, ${policy}${claims ? ' with a local-path claim each' : ''}: created -> all Ready ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    if (policy === 'OrderedReady') await ok(h1, 'DELETE', `${sets}/${name}`);
  }

  // Failover of a claim-less StatefulSet's ordinal.
  const parallel = `bench-parallel-${run}`;
  const moved: number[] = [];
  for (let i = 0; i < failovers; i++) {
    const leader = await waitForLeader(hosts, 3);
    await until('every node Ready', async () => {
      const nodes = (await ok(h1, 'GET', '/api/v1/nodes')).items as any[];
      return nodes.length === 3 && nodes.every((n) => n.status.conditions.some((c: any) => c.type === 'Ready' && c.status === 'True'));
    }, 60_000);
    const pods = await until('3 ready ordinals', async () => {
      const p = (await podsOf(h1, `app=${parallel}`)).filter((x) => !x.deleting);
      return p.length === 3 && p.every((x) => x.ready) ? p : undefined;
    }, 120_000);
    const victim = pods.find((p) => p.nodeName !== leader && p.nodeName !== 'h1') ?? pods.find((p) => p.nodeName !== leader && p.nodeName !== undefined);
    if (!victim) throw new Error(`no ordinal off the leader ${leader} and h1: ${JSON.stringify(pods)}`);
    const dead = hosts.find((h) => h.name === victim.nodeName)!;
    const witness = hosts.find((h) => h !== dead)!;
    await dead.cut();
    await dead.kill9();
    const t0 = Date.now();
    await dead.docker(['rm', '-f', ...(await dead.docker(['ps', '-aq'])).stdout.trim().split('\n').filter(Boolean)]);
    try {
      await until(`${victim.name} running off ${dead.name}`, async () => {
        const p = (await podsOf(witness, `app=${parallel}`)).find((x) => x.name === victim.name && !x.deleting);
        return p && p.phase === 'Running' && p.nodeName !== dead.name;
      }, 60_000);
      moved.push(Date.now() - t0);
    } finally {
      await dead.heal();
      await dead.start();
    }
  }
  if (failovers > 0) console.log(`StatefulSet ordinal on a dead host -> running elsewhere: ${secs(moved)}`);
  await ok(h1, 'DELETE', `${sets}/${parallel}`);
} finally {
  if (broughtUp) await labDown();
}
