// Service networking on 3 lab hosts with real Docker and iptables: pods reach
// each other across hosts with their real IPs, a pod on h1 reaches a Service by
// name and by ClusterIP with the answering pods on h2 and h3, 1,000 requests
// spread evenly, NodePorts answer on every host from the LAN (Local keeps the
// client IP), a LoadBalancer IP answers and moves when its node dies, an
// unready pod leaves the endpoints at once, and cluster DNS answers every
// record kind. Clients run inside pod containers (docker exec on the host's
// dockerd) or in the root namespace, which sits on the lab's LAN bridge.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../support/agent-process.ts';
import { agentLogTail, BUSYBOX_IMAGE, labDown, labUp, LAB_GATEWAY, runCommand, type LabHost } from '../support/lab.ts';
import { podsOf, raftOf, waitForLeader } from '../support/lab-raft.ts';

const NS = 'default';
const RS_PATH = `/apis/apps/v1/namespaces/${NS}/replicasets`;
const PODS = `/api/v1/namespaces/${NS}/pods`;
const SVCS = `/api/v1/namespaces/${NS}/services`;
const SLICES = `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`;

// httpd with a CGI that names the pod and the client address it sees.
const WHO = [
  'mkdir -p /www/cgi-bin',
  `printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho "pod=$POD_NAME client=$REMOTE_ADDR"\\n' > /www/cgi-bin/who`,
  'chmod +x /www/cgi-bin/who',
  'touch /tmp/ready',
  'exec httpd -f -p 8080 -h /www',
].join(' && ');

async function ok(h: LabHost, method: string, path: string, body?: unknown, contentType?: string): Promise<any> {
  const r = await h.api(method, path, body, contentType);
  assert.ok(r.status >= 200 && r.status < 300, `${method} ${path} on ${h.name}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

function webReplicaSet(name: string, replicas: number) {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: NS },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, tier: `${name}-tier` } },
        spec: {
          terminationGracePeriodSeconds: 1,
          // Never on h1, where the client runs: every answer crosses hosts.
          affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'NotIn', values: ['h1'] }] }] } } },
          containers: [{
            name: 'web',
            image: BUSYBOX_IMAGE,
            imagePullPolicy: 'IfNotPresent',
            command: ['sh', '-c', WHO],
            env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
            ports: [{ name: 'http', containerPort: 8080 }],
            readinessProbe: { exec: { command: ['test', '-f', '/tmp/ready'] }, periodSeconds: 1, failureThreshold: 1 },
          }],
        },
      },
    },
  };
}

function service(name: string, selector: string | Record<string, string>, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: NS },
    spec: { selector: typeof selector === 'string' ? { app: selector } : selector, ports: [{ name: 'http', port: 80, targetPort: 'http' }], ...spec },
  };
}

/** The id of pod's app container on host h. */
async function containerOf(h: LabHost, pod: string): Promise<string> {
  return waitFor(`the container of ${pod} on ${h.name}`, async () => {
    const r = await h.docker(['ps', '-q', '--filter', `label=io.mesh.pod.name=${pod}`, '--filter', 'label=io.mesh.container.kind=app']);
    return r.stdout.trim().split('\n')[0] || undefined;
  }, 60_000);
}

// busybox-static's wget crashes inside the image (static NSS), so clients speak HTTP through nc.
const REQ = `req() { printf 'GET /cgi-bin/who HTTP/1.0\\r\\n\\r\\n' | nc -w 3 "$1" "$2"; }; `;

/** Runs a shell script inside pod's container on host h (with `req HOST PORT` for one request). */
async function inPod(h: LabHost, pod: string, script: string): Promise<string> {
  const r = await h.docker(['exec', await containerOf(h, pod), 'sh', '-c', REQ + script]);
  return r.stdout + (r.code === 0 ? '' : `\n[exit ${r.code}] ${r.stderr}`);
}

/** `pod=NAME client=IP` lines of a response body. */
function answers(text: string): { pod: string; client: string }[] {
  // httpd listens dual-stack: an IPv4 client shows as [::ffff:a.b.c.d].
  return [...text.matchAll(/pod=(\S+) client=(\S+)/g)].map((m) => ({ pod: m[1]!, client: m[2]!.replace(/^\[(?:::ffff:)?|\]$/g, '') }));
}

describe('service networking on 3 lab hosts', () => {
  let hosts: LabHost[] = [];
  let h1: LabHost;
  const run = Math.random().toString(36).slice(2, 7);
  const web = `web-${run}`;
  let vip = '';
  let webPods: { name: string; nodeName?: string }[] = [];
  let clientIp = '';

  before(async () => {
    hosts = await labUp(3);
    h1 = hosts[0]!;
    await waitForLeader(hosts, 3);
    await ok(h1, 'POST', RS_PATH, webReplicaSet(web, 4));
    await ok(h1, 'POST', SVCS, service(web, web));
    await ok(h1, 'POST', PODS, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `client-${run}`, namespace: NS },
      spec: { nodeName: 'h1', terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: BUSYBOX_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }] },
    });
    webPods = await waitFor('4 ready web pods', async () => {
      const pods = await podsOf(h1, `app=${web}`);
      return pods.length === 4 && pods.every((p) => p.ready) ? pods : undefined;
    }, 90_000);
    vip = await waitFor('the ClusterIP', async () => (await ok(h1, 'GET', `${SVCS}/${web}`)).spec.clusterIP, 30_000);
    const client = await waitFor('the client pod IP', async () => {
      const p = await ok(h1, 'GET', `${PODS}/client-${run}`);
      return p.status?.phase === 'Running' && p.status.podIP;
    }, 60_000);
    clientIp = client;
    // Every host programs the service once its endpoints reach it.
    await waitFor('the endpoint slice with 4 ready endpoints', async () => {
      const r = await ok(h1, 'GET', `${SLICES}?labelSelector=kubernetes.io%2Fservice-name%3D${web}`);
      const eps = (r.items as any[]).flatMap((s) => s.endpoints ?? []);
      return eps.filter((e: any) => e.conditions?.ready).length === 4;
    }, 30_000);
  });
  after(async () => {
    await labDown();
  });

  it('gives pods IPs from their node\'s pod CIDR and routes pod to pod across hosts without NAT', async () => {
    const nodes = (await ok(h1, 'GET', '/api/v1/nodes')).items as any[];
    const cidrs = nodes.map((n) => n.spec.podCIDR);
    assert.equal(new Set(cidrs).size, 3, `pod CIDRs: ${cidrs}`);
    const pods = await podsOf(h1, `app=${web}`);
    const full = await Promise.all(pods.map((p) => ok(h1, 'GET', `${PODS}/${p.name}`)));
    for (const p of full) {
      const cidr = nodes.find((n) => n.metadata.name === p.spec.nodeName).spec.podCIDR as string;
      assert.ok(p.status.podIP.startsWith(cidr.split('.').slice(0, 3).join('.') + '.'), `${p.metadata.name} has ${p.status.podIP}, outside ${cidr}`);
    }
    const target = full[0]!;
    const out = await inPod(h1, `client-${run}`, `req ${target.status.podIP} 8080`);
    assert.deepEqual(answers(out), [{ pod: target.metadata.name, client: clientIp }], out);
  });

  it('reaches the Service by name and by ClusterIP from h1, answered by pods on h2 and h3', async () => {
    const byName = await inPod(h1, `client-${run}`, `for i in $(seq 20); do req ${web} 80; done`);
    const byVip = await inPod(h1, `client-${run}`, `for i in $(seq 20); do req ${vip} 80; done`);
    for (const [how, out] of [['name', byName], ['ClusterIP', byVip]]) {
      const got = answers(out!);
      assert.equal(got.length, 20, `by ${how}: ${out}`);
      const nodes = new Set(got.map((a) => webPods.find((p) => p.name === a.pod)?.nodeName));
      assert.deepEqual([...nodes].sort(), ['h2', 'h3'], `by ${how}, answered from ${[...nodes]}`);
      assert.ok(got.every((a) => a.client === clientIp), `by ${how}, the pods saw ${got.map((a) => a.client)}: pod-to-pod traffic was masqueraded`);
    }
  });

  it('spreads 1,000 requests evenly over the 4 endpoints', async (t) => {
    const out = await inPod(h1, `client-${run}`, `for i in $(seq 1000); do req ${vip} 80; done`);
    const got = answers(out);
    assert.equal(got.length, 1000, `${got.length} answers`);
    const counts: Record<string, number> = {};
    for (const a of got) counts[a.pod] = (counts[a.pod] ?? 0) + 1;
    t.diagnostic(`per endpoint: ${JSON.stringify(counts)}`);
    assert.equal(Object.keys(counts).length, 4);
    // Binomial(1000, 1/4): sd 13.7; 5 sd either side.
    for (const [pod, n] of Object.entries(counts)) assert.ok(n >= 182 && n <= 318, `${pod} got ${n} of 1000`);
  });

  it('answers a NodePort on every host from the LAN; Local keeps the client IP and local endpoints only', async () => {
    const np = `${web}-np`;
    const local = `${web}-local`;
    await ok(h1, 'POST', SVCS, service(np, web, { type: 'NodePort' }));
    await ok(h1, 'POST', SVCS, service(local, web, { type: 'NodePort', externalTrafficPolicy: 'Local' }));
    const portOf = (name: string) => waitFor(`${name}'s NodePort`, async () => (await ok(h1, 'GET', `${SVCS}/${name}`)).spec.ports[0].nodePort, 30_000);
    const clusterPort = await portOf(np);
    const localPort = await portOf(local);
    const fetch = async (ip: string, port: number) =>
      (await runCommand('curl', ['-s', '--max-time', '3', `http://${ip}:${port}/cgi-bin/who`])).stdout;
    for (const h of hosts) {
      const out = await waitFor(`NodePort ${clusterPort} on ${h.name}`, async () => answers(await fetch(h.ip, clusterPort))[0], 20_000);
      assert.ok(webPods.some((p) => p.name === out.pod), `${h.name} answered ${JSON.stringify(out)}`);
    }
    const h2 = hosts[1]!;
    const onH2 = webPods.filter((p) => p.nodeName === 'h2').map((p) => p.name);
    for (let i = 0; i < 10; i++) {
      const a = await waitFor(`Local NodePort on h2`, async () => answers(await fetch(h2.ip, localPort))[0], 20_000);
      assert.ok(onH2.includes(a.pod), `Local on h2 answered from ${a.pod}, not a pod on h2`);
      assert.equal(a.client, LAB_GATEWAY, `Local should keep the client address, the pod saw ${a.client}`);
    }
    const none = await fetch(h1.ip, localPort);
    assert.deepEqual(answers(none), [], 'Local NodePort on h1, which runs no endpoint, answered');
    await ok(h1, 'DELETE', `${SVCS}/${np}`);
    await ok(h1, 'DELETE', `${SVCS}/${local}`);
  });

  it('takes an unready pod out of the endpoints at once, and sends it no request after that', async (t) => {
    const pods = await waitFor('4 ready web pods again', async () => {
      const p = await podsOf(h1, `app=${web}`);
      return p.filter((x) => x.ready && !x.deleting).length === 4 ? p.filter((x) => !x.deleting) : undefined;
    }, 90_000);
    const victim = pods[0]!;
    const host = hosts.find((h) => h.name === victim.nodeName)!;
    await inPod(host, victim.name, 'rm -f /tmp/ready');
    const at = Date.now();
    try {
      await waitFor(`${victim.name} not ready in its endpoint slice`, async () => {
        const r = await ok(h1, 'GET', `${SLICES}?labelSelector=kubernetes.io%2Fservice-name%3D${web}`);
        const ep = (r.items as any[]).flatMap((s) => s.endpoints ?? []).find((e: any) => e.targetRef?.name === victim.name);
        return ep && ep.conditions?.ready === false;
      }, 10_000);
      const took = Date.now() - at;
      t.diagnostic(`unready to out of the endpoints: ${took} ms (issue: within 2 s)`);
      // Give every host's proxy a moment to apply it, then not one request may reach the pod.
      await new Promise((r) => setTimeout(r, 1000));
      const got = answers(await inPod(h1, `client-${run}`, `for i in $(seq 200); do req ${vip} 80; done`));
      assert.equal(got.length, 200);
      assert.equal(got.filter((a) => a.pod === victim.name).length, 0, `${victim.name} still got requests`);
    } finally {
      await inPod(host, victim.name, 'touch /tmp/ready');
    }
  });

  it('answers cluster DNS for services, SRV, headless, pods, ExternalName, and NXDOMAIN', async () => {
    const headless = `${web}-hl`;
    // The ReplicaSet's pods and one bare pod share the tier label; the bare pod stays out of
    // the ReplicaSet's selector, which would adopt it and delete it as surplus.
    await ok(h1, 'POST', SVCS, service(headless, { tier: `${web}-tier` }, { clusterIP: 'None' }));
    await ok(h1, 'POST', SVCS, { apiVersion: 'v1', kind: 'Service', metadata: { name: `ext-${run}`, namespace: NS }, spec: { type: 'ExternalName', externalName: 'db.example.test' } });
    // A pod with a stable name under the headless service, as a StatefulSet's pods have.
    await ok(h1, 'POST', PODS, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `named-${run}`, namespace: NS, labels: { tier: `${web}-tier` } },
      spec: {
        hostname: 'web-0',
        subdomain: headless,
        nodeName: 'h2',
        terminationGracePeriodSeconds: 1,
        containers: [{ name: 'web', image: BUSYBOX_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', WHO], env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }], ports: [{ name: 'http', containerPort: 8080 }] }],
      },
    });
    const named = await waitFor('the named pod running', async () => {
      const p = await ok(h1, 'GET', `${PODS}/named-${run}`);
      return p.status?.phase === 'Running' && p.status.podIP;
    }, 60_000);
    const podIps = await waitFor('5 ready endpoints of the headless service', async () => {
      const r = await ok(h1, 'GET', `${SLICES}?labelSelector=kubernetes.io%2Fservice-name%3D${headless}`);
      const ips = (r.items as any[]).flatMap((s) => s.endpoints ?? []).filter((e: any) => e.conditions?.ready).flatMap((e: any) => e.addresses);
      return ips.length === 5 ? ips : undefined;
    }, 60_000);
    const client = `client-${run}`;
    const resolv = await inPod(h1, client, 'cat /etc/resolv.conf');
    assert.match(resolv, new RegExp(`search ${NS}\\.svc\\.cluster\\.local svc\\.cluster\\.local cluster\\.local`), resolv);
    assert.match(resolv, /ndots:5/, resolv);
    // The node's cluster DNS itself, on its pod gateway (h1's podCIDR .1), not Docker's embedded resolver.
    const h1Cidr = ((await ok(h1, 'GET', '/api/v1/nodes/h1')).spec.podCIDR as string).split('/')[0]!;
    assert.match(resolv, new RegExp(`^nameserver ${h1Cidr.replace(/\.0$/, '.1').replace(/\./g, '\\.')}$`, 'm'), resolv);
    const look = (args: string) => inPod(h1, client, `nslookup ${args} 2>&1`);

    const a = await look(`${web}.${NS}.svc.cluster.local`);
    assert.match(a, new RegExp(`Address:\\s*${vip.replace(/\./g, '\\.')}`), a);
    const short = await look(web);
    assert.match(short, new RegExp(vip.replace(/\./g, '\\.')), `the search path: ${short}`);
    const srv = await look(`-type=srv _http._tcp.${web}.${NS}.svc.cluster.local`);
    assert.match(srv, new RegExp(`80 ${web}\\.${NS}\\.svc\\.cluster\\.local`), srv);
    const hl = await look(`${headless}.${NS}.svc.cluster.local`);
    for (const ip of podIps) assert.ok(hl.includes(ip), `headless answer lacks ${ip}: ${hl}`);
    assert.ok(!hl.includes(vip), hl);
    const pod = await look(`web-0.${headless}.${NS}.svc.cluster.local`);
    assert.ok(pod.includes(named), `web-0.${headless} should be ${named}: ${pod}`);
    const ext = await look(`-type=cname ext-${run}.${NS}.svc.cluster.local`);
    assert.match(ext, /db\.example\.test/, ext);
    const missing = await look(`nope-${run}.${NS}.svc.cluster.local`);
    assert.match(missing, /NXDOMAIN/, missing);
    await ok(h1, 'DELETE', `${PODS}/named-${run}`);
  });
  // Last: killing the announcer may take the client's host down, and its pods with it.
  it('answers on a LoadBalancer IP from the pool, and moves it when its node dies', async (t) => {
    const lb = `${web}-lb`;
    await ok(h1, 'POST', SVCS, service(lb, web, { type: 'LoadBalancer' }));
    const { ip, node } = await waitFor('an LB IP with an announcing node', async () => {
      const s = await ok(h1, 'GET', `${SVCS}/${lb}`);
      const ip = s.status?.loadBalancer?.ingress?.[0]?.ip;
      const node = s.metadata.annotations?.['mesh.dev/lb-announcer'];
      return ip && node ? { ip: ip as string, node: node as string } : undefined;
    }, 30_000);
    assert.match(ip, /^10\.77\.0\.2(0\d|1\d|20)$/, `LB IP ${ip} is outside the lab's pool`);
    const hit = async () => answers((await runCommand('curl', ['-s', '--max-time', '2', `http://${ip}/cgi-bin/who`])).stdout)[0];
    await waitFor(`${ip} answering`, hit, 20_000);
    const leader = (await raftOf(h1))?.leader;
    const victim = hosts.find((h) => h.name === node)!;
    if (victim.name === leader || victim === h1) t.diagnostic(`the announcer ${node} is also ${victim === h1 ? 'the client host' : 'the leader'}`);
    await victim.cut();
    await victim.kill9();
    const at = Date.now();
    try {
      const rest = hosts.filter((h) => h !== victim);
      const moved = await waitFor('the LB IP to move to a live node', async () => {
        const s = await ok(rest[0]!, 'GET', `${SVCS}/${lb}`);
        const n = s.metadata.annotations?.['mesh.dev/lb-announcer'];
        return n && n !== node ? n : undefined;
      }, 60_000);
      await waitFor(`${ip} answering from ${moved}`, hit, 30_000);
      t.diagnostic(`${ip} moved from ${node} to ${moved}; answering again ${Date.now() - at} ms after the kill`);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- h1 log ---\n${await agentLogTail(h1)}`);
    } finally {
      await victim.heal();
      await victim.start();
    }
    await waitForLeader(hosts, 3);
    await ok(h1, 'DELETE', `${SVCS}/${lb}`);
  });
});
