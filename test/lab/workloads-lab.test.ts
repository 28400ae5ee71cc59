// Workloads on 3 lab hosts with real Docker, iptables and the cluster's own
// Services: a 6-replica Deployment rolled (update, undo, restart) behind a
// Service under a steady client load with zero failed requests; a StatefulSet
// of 3 that starts in order, keeps its names and data when a pod is deleted and
// when its host dies, and scales down in reverse; a Job with parallelism 2; a
// CronJob that fires on schedule; an HPA that scales on CPU and back; a
// DaemonSet that covers a host that joins later; 422s for bad specs. kubectl
// does what a user would do with it; the API is read for what kubectl hides.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../support/agent-process.ts';
import { agentLogTail, BUSYBOX_IMAGE, labDown, labUp, type LabHost } from '../support/lab.ts';
import { podsOf, raftOf, waitForLeader, type PodView } from '../support/lab-raft.ts';

const NS = 'default';
const PODS = `/api/v1/namespaces/${NS}/pods`;
const SVCS = `/api/v1/namespaces/${NS}/services`;
const DEPLOYS = `/apis/apps/v1/namespaces/${NS}/deployments`;
const STS = `/apis/apps/v1/namespaces/${NS}/statefulsets`;
const DS = `/apis/apps/v1/namespaces/${NS}/daemonsets`;
const JOBS = `/apis/batch/v1/namespaces/${NS}/jobs`;
const CRONJOBS = `/apis/batch/v1/namespaces/${NS}/cronjobs`;
const HPAS = `/apis/autoscaling/v2/namespaces/${NS}/horizontalpodautoscalers`;
const PVCS = `/api/v1/namespaces/${NS}/persistentvolumeclaims`;

async function ok(h: LabHost, method: string, path: string, body?: unknown, contentType?: string): Promise<any> {
  const r = await h.api(method, path, body, contentType);
  assert.ok(r.status >= 200 && r.status < 300, `${method} ${path} on ${h.name}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

async function kubectl(h: LabHost, args: string[], input?: string): Promise<string> {
  const r = await h.kubectl(args, input);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

const probeAt = (path: string) => ({ httpGet: { path, port: 8080 }, periodSeconds: 1, failureThreshold: 1 });

// httpd with CGIs: `who` names the pod and its VERSION, `burn` spends CPU.
const HTTPD = [
  'mkdir -p /www/cgi-bin',
  `printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho "pod=$POD_NAME version=$VERSION"\\n' > /www/cgi-bin/who`,
  `printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\ndd if=/dev/zero bs=64k count=2000 2>/dev/null | md5sum\\n' > /www/cgi-bin/burn`,
  'chmod +x /www/cgi-bin/who /www/cgi-bin/burn',
  'exec httpd -f -p 8080 -h /www',
].join(' && ');

function httpdContainer(extra: Record<string, unknown> = {}) {
  return {
    name: 'web',
    image: BUSYBOX_IMAGE,
    imagePullPolicy: 'IfNotPresent',
    command: ['sh', '-c', HTTPD],
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'VERSION', value: 'v1' },
    ],
    ports: [{ name: 'http', containerPort: 8080 }],
    readinessProbe: probeAt('/cgi-bin/who'),
    ...extra,
  };
}

function service(name: string, spec: Record<string, unknown> = {}) {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS }, spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 'http' }], ...spec } };
}

/** The id of pod's app container on host h. */
async function containerOf(h: LabHost, pod: string, timeoutMs = 60_000): Promise<string> {
  return waitFor(`the container of ${pod} on ${h.name}`, async () => {
    const r = await h.docker(['ps', '-q', '--filter', `label=io.mesh.pod.name=${pod}`, '--filter', 'label=io.mesh.container.kind=app']);
    return r.stdout.trim().split('\n')[0] || undefined;
  }, timeoutMs);
}

// busybox-static's wget crashes inside the image (static NSS), so clients speak HTTP through nc.
const REQ = `req() { printf "GET /cgi-bin/$3 HTTP/1.0\\r\\n\\r\\n" | nc -w 3 "$1" "$2"; }; `;

async function inPod(h: LabHost, pod: string, script: string, detach = false): Promise<string> {
  const r = await h.docker(['exec', ...(detach ? ['-d'] : []), await containerOf(h, pod), 'sh', '-c', REQ + script]);
  assert.equal(r.code, 0, `exec in ${pod} on ${h.name}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/**
 * Starts `loops` request loops in pod on h against ip:80/cgi-bin/<cgi>, each
 * bounded to maxRequests and stopped by /tmp/stop-<tag>; a line per request in
 * /tmp/<tag>.<n>.log: `ok <body>` or `fail <n>`.
 */
async function startLoad(h: LabHost, pod: string, tag: string, ip: string, cgi: string, loops: number, maxRequests: number, pause: string): Promise<() => Promise<string[]>> {
  for (let n = 0; n < loops; n++) {
    const loop = `i=0; rm -f /tmp/stop-${tag}; while [ $i -lt ${maxRequests} ] && [ ! -f /tmp/stop-${tag} ]; do i=$((i+1)); ` +
      `r=$(req ${ip} 80 ${cgi} | tail -n 1); case "$r" in "") echo "fail $i";; *) echo "ok $r";; esac; sleep ${pause}; done > /tmp/${tag}.${n}.log 2>&1`;
    await inPod(h, pod, loop, true);
  }
  return async () => {
    await inPod(h, pod, `touch /tmp/stop-${tag}`);
    await new Promise((r) => setTimeout(r, 4_000)); // the loops' last request times out within 3 s
    return (await inPod(h, pod, `cat /tmp/${tag}.*.log`)).split('\n').filter(Boolean);
  };
}

function deployment(name: string, replicas: number, container: Record<string, unknown>, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { terminationGracePeriodSeconds: 10, containers: [container] } },
      ...spec,
    },
  };
}

async function rolloutStatus(h: LabHost, ref: string): Promise<string> {
  return kubectl(h, ['rollout', 'status', ref, '--timeout=240s']);
}

/** The VERSION env of every running, ready pod of app. */
async function versionsOf(h: LabHost, app: string): Promise<string[]> {
  const r = await ok(h, 'GET', `${PODS}?labelSelector=app%3D${app}`);
  return (r.items as any[])
    .filter((p) => !p.metadata.deletionTimestamp)
    .map((p) => p.spec.containers[0].env.find((e: any) => e.name === 'VERSION')?.value);
}

describe('workloads on 3 lab hosts', () => {
  let hosts: LabHost[] = [];
  let h1: LabHost;
  const run = Math.random().toString(36).slice(2, 7);
  const client = `client-${run}`;
  const cronJob = `tick-${run}`;
  let cronCreatedAt = 0;

  /** The host the Raft leader runs on: its store saw every input of a decision before the decision. */
  async function leaderHost(among = hosts): Promise<LabHost> {
    const name = await waitForLeader(among, 3);
    return among.find((h) => h.name === name)!;
  }

  /** The client pod on h1, made again if h1's death evicted it. */
  async function ensureClient(): Promise<void> {
    const got = await h1.api('GET', `${PODS}/${client}`);
    if (got.status === 404 || got.body?.metadata?.deletionTimestamp) {
      await waitFor('the old client pod gone', async () => (await h1.api('GET', `${PODS}/${client}`)).status === 404, 60_000);
      await ok(h1, 'POST', PODS, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: client, namespace: NS },
        spec: { nodeName: 'h1', terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: BUSYBOX_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sleep', '7200'] }] },
      });
    }
    await waitFor('the client pod running', async () => (await ok(h1, 'GET', `${PODS}/${client}`)).status?.phase === 'Running', 60_000);
    await containerOf(h1, client);
  }

  before(async () => {
    hosts = await labUp(3);
    h1 = hosts[0]!;
    await waitForLeader(hosts, 3);
    await ensureClient();
    // The CronJob is made first so its minute comes round while the other tests run.
    cronCreatedAt = Date.now();
    await ok(h1, 'POST', CRONJOBS, {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: cronJob, namespace: NS },
      spec: {
        schedule: '* * * * *',
        timeZone: 'Europe/Berlin',
        concurrencyPolicy: 'Forbid',
        successfulJobsHistoryLimit: 10,
        jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', terminationGracePeriodSeconds: 1, containers: [{ name: 'tick', image: BUSYBOX_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'date; sleep 1'] }] } } } },
      },
    });
  });
  after(async () => {
    await labDown();
  });

  it('rolls a 6-replica Deployment behind a Service under load with zero failed requests: update, history, undo, restart', async (t) => {
    const web = `web-${run}`;
    // The preStop pause covers the time the other hosts take to drop the endpoint, as in Kubernetes.
    const container = httpdContainer({ lifecycle: { preStop: { exec: { command: ['sleep', '3'] } } } });
    await kubectl(h1, ['apply', '-f', '-'], JSON.stringify(deployment(web, 6, container, { minReadySeconds: 1 })));
    await kubectl(h1, ['apply', '-f', '-'], JSON.stringify(service(web)));
    await rolloutStatus(h1, `deployment/${web}`);
    const vip = (await ok(h1, 'GET', `${SVCS}/${web}`)).spec.clusterIP as string;
    await waitFor('6 ready endpoints', async () => {
      const r = await ok(h1, 'GET', `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3D${web}`);
      return (r.items as any[]).flatMap((s) => s.endpoints ?? []).filter((e: any) => e.conditions?.ready).length === 6;
    }, 60_000);

    const stop = await startLoad(h1, client, `roll-${run}`, vip, 'who', 2, 20_000, '0.05');
    let lines: string[] = [];
    try {
      await kubectl(h1, ['set', 'env', `deployment/${web}`, 'VERSION=v2']);
      await kubectl(h1, ['annotate', `deployment/${web}`, 'kubernetes.io/change-cause=version 2', '--overwrite']);
      assert.match(await rolloutStatus(h1, `deployment/${web}`), /successfully rolled out/);
      assert.deepEqual(await versionsOf(h1, web), Array(6).fill('v2'));

      const history = await kubectl(h1, ['rollout', 'history', `deployment/${web}`]);
      assert.match(history, /^1\s/m, history);
      assert.match(history, /^2\s+version 2/m, history);

      await kubectl(h1, ['rollout', 'undo', `deployment/${web}`]);
      await rolloutStatus(h1, `deployment/${web}`);
      assert.deepEqual(await versionsOf(h1, web), Array(6).fill('v1'));

      const before = new Set((await podsOf(h1, `app=${web}`)).map((p) => p.name));
      await kubectl(h1, ['rollout', 'restart', `deployment/${web}`]);
      await rolloutStatus(h1, `deployment/${web}`);
      const restarted = await waitFor('6 pods, all new, after the restart', async () => {
        const pods = (await podsOf(h1, `app=${web}`)).filter((p) => !p.deleting);
        return pods.length === 6 && pods.every((p) => p.ready && !before.has(p.name)) ? pods : undefined;
      }, 60_000);
      assert.equal(restarted.length, 6);
    } finally {
      lines = await stop();
    }
    const failed = lines.filter((l) => !l.startsWith('ok '));
    const seen = new Set(lines.map((l) => /version=(\S+)/.exec(l)?.[1]).filter(Boolean));
    t.diagnostic(`${lines.length} requests during update, undo and restart; ${failed.length} failed; versions seen: ${[...seen].join(', ')}`);
    assert.ok(lines.length > 200, `too few requests to mean anything: ${lines.length}`);
    assert.deepEqual(failed, [], `failed requests during the rollouts`);
    assert.deepEqual([...seen].sort(), ['v1', 'v2']);
    const d = await ok(h1, 'GET', `${DEPLOYS}/${web}`);
    assert.equal(d.status.observedGeneration, d.metadata.generation);
    assert.equal(d.status.updatedReplicas, 6);
    assert.equal(d.status.availableReplicas, 6);
    assert.equal(d.status.conditions.find((c: any) => c.type === 'Progressing')?.reason, 'NewReplicaSetAvailable');
    await kubectl(h1, ['delete', `deployment/${web}`, `service/${web}`]);
  });

  it('runs a StatefulSet of 3 in order, keeps names and data through a pod delete and a host death, and scales down in reverse', async (t) => {
    const db = `db-${run}`;
    const names = [0, 1, 2].map((i) => `${db}-${i}`);
    await kubectl(h1, ['apply', '-f', '-'], JSON.stringify(service(db, { clusterIP: 'None' })));
    const sts = {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: db, namespace: NS },
      spec: {
        replicas: 3,
        serviceName: db,
        selector: { matchLabels: { app: db } },
        template: {
          metadata: { labels: { app: db } },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [httpdContainer({
              command: ['sh', '-c', `echo "$POD_NAME" >> /data/boots && touch /tmp/ready && ${HTTPD}`],
              readinessProbe: { exec: { command: ['test', '-f', '/tmp/ready'] }, initialDelaySeconds: 2, periodSeconds: 1 },
              volumeMounts: [{ name: 'data', mountPath: '/data' }],
            })],
          },
        },
        volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '16Mi' } } } }],
      },
    };
    const leader = await leaderHost();
    await kubectl(h1, ['apply', '-f', '-'], JSON.stringify(sts));

    // Watched on the leader, whose store saw each pod's readiness before it made the next pod.
    const violations: string[] = [];
    const startDeadline = Date.now() + 180_000;
    let pods: PodView[] = [];
    for (;;) {
      pods = (await podsOf(leader, `app=${db}`)).filter((p) => !p.deleting);
      const present = pods.map((p) => p.name).sort();
      if (present.length > 0 && present.join() !== names.slice(0, present.length).join()) violations.push(`not a prefix: ${present.join(',')}`);
      for (const p of pods) {
        const i = names.indexOf(p.name);
        if (i > 0 && !pods.find((q) => q.name === names[i - 1])?.ready) violations.push(`${p.name} exists while ${names[i - 1]} is not ready`);
      }
      if (pods.length === 3 && pods.every((p) => p.ready)) break;
      assert.ok(Date.now() < startDeadline, `the StatefulSet did not come up: ${JSON.stringify(pods)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual(violations, [], 'OrderedReady start');
    await rolloutStatus(h1, `statefulset/${db}`);

    const hostOf = (p: PodView) => hosts.find((h) => h.name === p.nodeName)!;
    const claims = (await ok(h1, 'GET', PVCS)).items.filter((c: any) => c.metadata.name.startsWith(`data-${db}-`));
    assert.deepEqual(claims.map((c: any) => [c.metadata.name, c.status.phase]).sort(), names.map((n) => [`data-${n}`, 'Bound']));
    for (const p of pods) {
      await inPod(hostOf(p), p.name, `echo "marker-${p.name}" > /data/marker && hostname`);
      assert.equal((await inPod(hostOf(p), p.name, 'hostname')).trim(), p.name);
    }
    // Stable network identity through the governing headless Service.
    const dnsAnswer = await inPod(h1, client, `nslookup ${names[1]}.${db}.${NS}.svc.cluster.local 2>&1`);
    const podIp = (await ok(h1, 'GET', `${PODS}/${names[1]}`)).status.podIP as string;
    assert.ok(dnsAnswer.includes(podIp), `${names[1]}.${db} should resolve to ${podIp}: ${dnsAnswer}`);

    // A deleted pod comes back with its name, its node (the claim's volume lives there) and its data.
    const victim = pods.find((p) => p.name === names[1])!;
    const oldUid = (await ok(h1, 'GET', `${PODS}/${victim.name}`)).metadata.uid;
    await kubectl(h1, ['delete', 'pod', victim.name, '--wait=false']);
    const back = await waitFor(`${victim.name} recreated and ready`, async () => {
      const p = await h1.api('GET', `${PODS}/${victim.name}`);
      if (p.status !== 200 || p.body.metadata.uid === oldUid || p.body.metadata.deletionTimestamp) return undefined;
      return (p.body.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True') ? p.body : undefined;
    }, 90_000);
    assert.equal(back.spec.nodeName, victim.nodeName);
    assert.equal((await inPod(hostOf(victim), victim.name, 'cat /data/marker')).trim(), `marker-${victim.name}`);
    assert.match(await inPod(hostOf(victim), victim.name, 'cat /data/boots'), new RegExp(`^${victim.name}\\n${victim.name}\\n$`));

    // A host dies: its ordinal waits for the host (the data is there), and never runs twice.
    const leaderName = (await raftOf(h1))?.leader;
    const doomed = pods.find((p) => p.nodeName !== leaderName && p.nodeName !== 'h1') ?? pods.find((p) => p.nodeName !== leaderName)!;
    const dead = hostOf(doomed);
    const rest = hosts.filter((h) => h !== dead);
    t.diagnostic(`killing ${dead.name}, the host of ${doomed.name}`);
    await dead.cut();
    await dead.kill9();
    await dead.docker(['rm', '-f', ...(await dead.docker(['ps', '-aq'])).stdout.trim().split('\n').filter(Boolean)]);
    try {
      const waiting = await waitFor(`${doomed.name} evicted and waiting for its volume's node`, async () => {
        const p = await rest[0]!.api('GET', `${PODS}/${doomed.name}`);
        if (p.status !== 200 || p.body.spec.nodeName) return undefined;
        const cond = (p.body.status?.conditions ?? []).find((c: any) => c.type === 'PodScheduled' && c.status === 'False');
        return cond?.message;
      }, 90_000);
      t.diagnostic(`${doomed.name} while ${dead.name} is down: ${waiting}`);
      assert.match(waiting, /volume node affinity conflict/);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- ${rest[0]!.name} log ---\n${await agentLogTail(rest[0]!)}`);
    } finally {
      await dead.heal();
      await dead.start();
    }
    await waitForLeader(hosts, 3, 90_000);
    const returned = await waitFor(`${doomed.name} running again on ${dead.name}`, async () => {
      const p = (await podsOf(h1, `app=${db}`)).find((x) => x.name === doomed.name);
      return p?.ready && !p.deleting ? p : undefined;
    }, 120_000);
    assert.equal(returned.nodeName, dead.name);
    assert.equal((await inPod(dead, doomed.name, 'cat /data/marker')).trim(), `marker-${doomed.name}`);

    // Scale down: the highest ordinal goes first, and the claims stay.
    const scaleLeader = await leaderHost();
    await kubectl(h1, ['scale', `statefulset/${db}`, '--replicas=1']);
    const order: string[] = [];
    await waitFor('the StatefulSet down to 1', async () => {
      const present = (await podsOf(scaleLeader, `app=${db}`)).map((p) => p.name);
      for (const n of names) if (!present.includes(n) && !order.includes(n)) order.push(n);
      return present.length === 1 && present[0] === names[0];
    }, 90_000);
    assert.deepEqual(order, [names[2], names[1]], 'reverse ordinal order');
    const kept = (await ok(h1, 'GET', PVCS)).items.filter((c: any) => c.metadata.name.startsWith(`data-${db}-`));
    assert.equal(kept.length, 3, 'claims are kept when the StatefulSet scales down');
    await kubectl(h1, ['delete', `statefulset/${db}`, `service/${db}`]);
  });

  it('completes a Job with parallelism 2', async () => {
    const job = `batch-${run}`;
    await kubectl(h1, ['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: job, namespace: NS },
      spec: {
        completions: 4,
        parallelism: 2,
        template: { spec: { restartPolicy: 'Never', terminationGracePeriodSeconds: 1, containers: [{ name: 'work', image: BUSYBOX_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', 'sleep 3'] }] } },
      },
    }));
    let mostActive = 0;
    const done = await waitFor('the Job complete', async () => {
      const pods = (await podsOf(h1, `job-name=${job}`)).filter((p) => p.phase === 'Running' || p.phase === 'Pending');
      mostActive = Math.max(mostActive, pods.length);
      const j = await ok(h1, 'GET', `${JOBS}/${job}`);
      return (j.status?.conditions ?? []).some((c: any) => c.type === 'Complete' && c.status === 'True') ? j : undefined;
    }, 120_000);
    assert.equal(done.status.succeeded, 4);
    assert.ok(mostActive <= 2, `at most 2 pods at once, saw ${mostActive}`);
    assert.equal(mostActive, 2, 'two pods ran side by side');
    assert.match(await kubectl(h1, ['wait', '--for=condition=complete', `job/${job}`, '--timeout=10s']), /condition met/);
  });

  it('fires a CronJob on schedule, once per scheduled time', async () => {
    const fired = await waitFor('a Job of the CronJob complete', async () => {
      const jobs = ((await ok(h1, 'GET', JOBS)).items as any[]).filter((j) => j.metadata.ownerReferences?.some((o: any) => o.kind === 'CronJob' && o.name === cronJob));
      return jobs.find((j) => (j.status?.conditions ?? []).some((c: any) => c.type === 'Complete' && c.status === 'True'));
    }, 150_000);
    const scheduled = Date.parse(fired.metadata.annotations['batch.kubernetes.io/cronjob-scheduled-timestamp']);
    assert.equal(scheduled % 60_000, 0, 'a * * * * * schedule fires on the minute');
    assert.ok(scheduled >= cronCreatedAt - 60_000, 'not a time before the CronJob existed');
    assert.equal(fired.metadata.name, `${cronJob}-${scheduled / 60_000}`);
    const started = Date.parse(fired.status.startTime);
    assert.ok(started - scheduled < 30_000, `started ${started - scheduled} ms after its scheduled time`);
    const cj = await ok(h1, 'GET', `${CRONJOBS}/${cronJob}`);
    assert.ok(Date.parse(cj.status.lastScheduleTime) >= scheduled);
  });

  it('runs a schedule that falls in a leader change once, not twice', async (t) => {
    const jobsOf = async (h: LabHost) => ((await ok(h, 'GET', JOBS)).items as any[])
      .filter((j) => j.metadata.ownerReferences?.some((o: any) => o.kind === 'CronJob' && o.name === cronJob));
    const leader = await leaderHost();
    const rest = hosts.filter((h) => h !== leader);
    // The leader dies just before a minute, so that minute passes while the group elects another.
    const slot = Math.ceil((Date.now() + 8_000) / 60_000) * 60_000;
    await new Promise((r) => setTimeout(r, slot - 300 - Date.now()));
    await leader.cut();
    await leader.kill9();
    t.diagnostic(`killed the leader ${leader.name} ${slot - Date.now()} ms before ${new Date(slot).toISOString()}`);
    try {
      const name = `${cronJob}-${slot / 60_000}`;
      const job = await waitFor(`${name} complete under the new leader`, async () => {
        const j = (await jobsOf(rest[0]!)).find((x) => x.metadata.name === name);
        return (j?.status?.conditions ?? []).some((c: any) => c.type === 'Complete' && c.status === 'True') ? j : undefined;
      }, 90_000);
      const newLeader = (await raftOf(rest[0]!))?.leader;
      assert.notEqual(newLeader, leader.name);
      assert.equal(job.metadata.annotations['mesh.dev/leader-term'] !== undefined, true, 'made by a leader');
    } finally {
      await leader.heal();
      await leader.start();
    }
    await waitForLeader(hosts, 3, 90_000);
    // Once the old leader is back and caught up, every scheduled time still has exactly one Job and one pod.
    await new Promise((r) => setTimeout(r, 5_000));
    await kubectl(h1, ['patch', `cronjob/${cronJob}`, '-p', '{"spec":{"suspend":true}}']);
    const jobs = await jobsOf(h1);
    const times = jobs.map((j) => j.metadata.annotations['batch.kubernetes.io/cronjob-scheduled-timestamp']);
    assert.equal(new Set(times).size, times.length, `one Job per scheduled time: ${times.join(', ')}`);
    assert.ok(times.some((x) => Date.parse(x) === slot), `the missed time ${new Date(slot).toISOString()} ran: ${times.join(', ')}`);
    const slotPods = (await podsOf(h1, `job-name=${cronJob}-${slot / 60_000}`));
    assert.equal(slotPods.length, 1, `one pod for the missed time: ${JSON.stringify(slotPods)}`);
    await ensureClient();
  });

  it('scales a Deployment from 1 to at least 3 pods under CPU load with an HPA, and back down when the load stops', async (t) => {
    const burn = `burn-${run}`;
    const container = httpdContainer({ resources: { requests: { cpu: '50m' }, limits: { cpu: '250m' } } });
    await kubectl(h1, ['apply', '-f', '-'], JSON.stringify(deployment(burn, 1, container)));
    await kubectl(h1, ['apply', '-f', '-'], JSON.stringify(service(burn)));
    await kubectl(h1, ['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: burn, namespace: NS },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: burn },
        minReplicas: 1,
        maxReplicas: 4,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 50 } } }],
        // A short scale-down window so the test sees it; the default (300 s) is covered by the unit tests.
        behavior: { scaleDown: { stabilizationWindowSeconds: 20 } },
      },
    }));
    await rolloutStatus(h1, `deployment/${burn}`);
    const vip = (await ok(h1, 'GET', `${SVCS}/${burn}`)).spec.clusterIP as string;
    const stop = await startLoad(h1, client, `burn-${run}`, vip, 'burn', 3, 5_000, '0.01');
    let loadStopped = false;
    try {
      const up = await waitFor('the HPA to scale up to 3 or more', async () => {
        const d = await ok(h1, 'GET', `${DEPLOYS}/${burn}`);
        return d.spec.replicas >= 3 ? d.spec.replicas : undefined;
      }, 180_000);
      const hpa = await ok(h1, 'GET', `${HPAS}/${burn}`);
      t.diagnostic(`scaled to ${up}; HPA status ${JSON.stringify(hpa.status?.currentMetrics)}`);
      assert.ok(hpa.status.desiredReplicas >= 3);
      assert.ok(hpa.status.currentMetrics[0].resource.current.averageUtilization > 50);
      const top = await kubectl(h1, ['get', 'hpa', burn]);
      assert.match(top, /cpu: \d+%\/50%/, top);
      await stop();
      loadStopped = true;
      await waitFor('the HPA to scale back to 1', async () => (await ok(h1, 'GET', `${DEPLOYS}/${burn}`)).spec.replicas === 1, 240_000);
    } finally {
      if (!loadStopped) await stop();
    }
    const hpa = await ok(h1, 'GET', `${HPAS}/${burn}`);
    assert.equal(hpa.status.desiredReplicas, 1);
    assert.ok((hpa.status.conditions ?? []).some((c: any) => c.type === 'ScalingActive' && c.status === 'True'), JSON.stringify(hpa.status.conditions));
    await kubectl(h1, ['delete', `hpa/${burn}`, `deployment/${burn}`, `service/${burn}`]);
  });

  it('rejects bad specs with 422 and names the field', async () => {
    const bad = async (path: string, obj: unknown, field: string) => {
      const r = await h1.api('POST', path, obj);
      assert.equal(r.status, 422, JSON.stringify(r.body));
      const fields = (r.body.details?.causes ?? []).map((c: any) => c.field);
      assert.ok(fields.includes(field), `causes ${JSON.stringify(fields)} should name ${field}`);
    };
    const d = deployment(`bad-${run}`, 1, httpdContainer());
    await bad(DEPLOYS, { ...d, spec: { ...d.spec, selector: { matchLabels: { app: 'other' } } } }, 'spec.template.metadata.labels');
    await bad(DEPLOYS, { ...d, spec: { ...d.spec, replicas: -1 } }, 'spec.replicas');
    await bad(CRONJOBS, {
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      metadata: { name: `bad-${run}`, namespace: NS },
      spec: { schedule: '61 * * * *', jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'x', image: BUSYBOX_IMAGE }] } } } } },
    }, 'spec.schedule');
    // kubectl shows the same message, with the field.
    const r = await h1.kubectl(['apply', '-f', '-'], JSON.stringify({ ...d, spec: { ...d.spec, replicas: -1 } }));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /spec\.replicas: Invalid value: -1/);
  });

  // Last: it adds a fourth host.
  it('runs a DaemonSet pod on every node, including one that joins later', async () => {
    const ds = `node-agent-${run}`;
    await kubectl(h1, ['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: ds, namespace: NS },
      spec: {
        selector: { matchLabels: { app: ds } },
        template: { metadata: { labels: { app: ds } }, spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'a', image: BUSYBOX_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }] } },
      },
    }));
    const onNodes = async (want: string[]) => {
      const pods = (await podsOf(h1, `app=${ds}`)).filter((p) => !p.deleting);
      const nodes = pods.filter((p) => p.phase === 'Running').map((p) => p.nodeName!).sort();
      return pods.length === want.length && nodes.join() === want.join() ? pods : undefined;
    };
    await waitFor('a DaemonSet pod on h1, h2, h3', () => onNodes(['h1', 'h2', 'h3']), 90_000);
    const h4 = (await labUp(4))[3]!;
    hosts.push(h4);
    await waitFor('a DaemonSet pod on the new h4 too', () => onNodes(['h1', 'h2', 'h3', 'h4']), 120_000);
    const status = (await ok(h1, 'GET', `${DS}/${ds}`)).status;
    assert.equal(status.desiredNumberScheduled, 4);
    await waitFor('the DaemonSet status to count 4 ready', async () => (await ok(h1, 'GET', `${DS}/${ds}`)).status.numberReady === 4, 60_000);

    // A rolling update across the 4 nodes, its history, and an undo to the first template.
    await kubectl(h1, ['set', 'env', `daemonset/${ds}`, 'ROUND=2']);
    assert.match(await rolloutStatus(h1, `daemonset/${ds}`), /successfully rolled out/);
    const history = await kubectl(h1, ['rollout', 'history', `daemonset/${ds}`]);
    assert.match(history, /^1\s/m, history);
    assert.match(history, /^2\s/m, history);
    await kubectl(h1, ['rollout', 'undo', `daemonset/${ds}`]);
    await rolloutStatus(h1, `daemonset/${ds}`);
    const pods = await waitFor('4 DaemonSet pods of the first template', async () => {
      const r = (await ok(h1, 'GET', `${PODS}?labelSelector=app%3D${ds}`)).items.filter((p: any) => !p.metadata.deletionTimestamp);
      return r.length === 4 && r.every((p: any) => !(p.spec.containers[0].env ?? []).some((e: any) => e.name === 'ROUND')) ? r : undefined;
    }, 90_000);
    assert.deepEqual(pods.map((p: any) => p.spec.nodeName).sort(), ['h1', 'h2', 'h3', 'h4']);
  });
});
