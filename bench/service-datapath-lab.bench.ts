// The data path through a ClusterIP against the pod IP directly, measured in one
// run on the 3-host lab: a client pod on h1 downloads a 256 MiB file from an
// httpd pod on h2 (throughput), and makes 200 small requests one after another
// (latency per request), alternating the two targets each round. The client
// tools are busybox (nc, wc), which bound the throughput on both paths alike.
// DESIGN.md §6: data path via ClusterIP vs direct pod IP >= 0.95x throughput.
// Run (as root): node bench/service-datapath-lab.bench.ts [rounds=5]
// Brings the lab up if it is not, and takes it down again only if it did.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BUSYBOX_IMAGE, LAB_RUN, labDown, labUp, type LabHost } from '../test/support/lab.ts';
import { waitForLeader } from '../test/support/lab-raft.ts';

const rounds = Number(process.argv[2] ?? 5);
const broughtUp = !existsSync(join(LAB_RUN, 'h1'));
const hosts = await labUp(3);
const [h1] = hosts as [LabHost];
const run = Math.random().toString(36).slice(2, 7);
const PODS = '/api/v1/namespaces/default/pods';
const SVCS = '/api/v1/namespaces/default/services';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

function pod(name: string, node: string, command: string) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app: name } },
    spec: {
      nodeName: node,
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image: BUSYBOX_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sh', '-c', command], ports: [{ name: 'http', containerPort: 8080 }] }],
    },
  };
}

async function inPod(h: LabHost, name: string, script: string): Promise<string> {
  const id = (await h.docker(['ps', '-q', '--filter', `label=io.mesh.pod.name=${name}`, '--filter', 'label=io.mesh.container.kind=app'])).stdout.trim();
  const r = await h.docker(['exec', id, 'sh', '-c', script]);
  return r.stdout + r.stderr;
}

const server = `dp-server-${run}`;
const client = `dp-client-${run}`;
try {
  await waitForLeader(hosts, 3);
  await h1.api('POST', PODS, pod(server, 'h2', 'dd if=/dev/zero of=/www/big bs=1M count=256 2>/dev/null && exec httpd -f -p 8080 -h /www'));
  await h1.api('POST', PODS, pod(client, 'h1', 'sleep 3600'));
  await h1.api('POST', SVCS, { apiVersion: 'v1', kind: 'Service', metadata: { name: server, namespace: 'default' }, spec: { selector: { app: server }, ports: [{ port: 80, targetPort: 'http' }] } });
  const podIp = await until('the server pod IP', async () => {
    const p = (await h1.api('GET', `${PODS}/${server}`)).body;
    return p.status?.phase === 'Running' && p.status.podIP;
  });
  await until('the client pod', async () => (await h1.api('GET', `${PODS}/${client}`)).body.status?.phase === 'Running');
  const vip = await until('the ClusterIP', async () => (await h1.api('GET', `${SVCS}/${server}`)).body.spec?.clusterIP);
  const targets: [string, string][] = [['pod IP', `${podIp} 8080`], ['ClusterIP', `${vip} 80`]];
  for (const [, t] of targets) {
    await until(`an answer from ${t}`, async () => (await inPod(h1, client, `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${t}`)).includes('200 OK'));
  }

  const mbps: Record<string, number[]> = { 'pod IP': [], ClusterIP: [] };
  const perRequestMs: Record<string, number[]> = { 'pod IP': [], ClusterIP: [] };
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? targets : [...targets].reverse();
    for (const [label, t] of order) {
      const out = await inPod(h1, client, `time -p sh -c "printf 'GET /big HTTP/1.0\\r\\n\\r\\n' | nc -w 5 ${t} | wc -c" 2>&1`);
      const bytes = Number(/^(\d+)$/m.exec(out)?.[1]);
      const secs = Number(/real ([\d.]+)/.exec(out)?.[1]);
      if (!(bytes > 256 * 1024 * 1024) || !(secs > 0)) throw new Error(`download via ${label}: ${out}`);
      mbps[label]!.push(bytes / secs / 1e6);
      const lat = await inPod(h1, client, `time -p sh -c 'for i in $(seq 200); do printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 3 ${t} >/dev/null; done' 2>&1`);
      perRequestMs[label]!.push((Number(/real ([\d.]+)/.exec(lat)?.[1]) * 1000) / 200);
    }
    console.log(`round ${r + 1}: ` + targets.map(([l]) => `${l} ${mbps[l]!.at(-1)!.toFixed(0)} MB/s, ${perRequestMs[l]!.at(-1)!.toFixed(2)} ms/request`).join('; '));
  }
  const [direct, viaVip] = [median(mbps['pod IP']!), median(mbps.ClusterIP!)];
  console.log(`throughput, median of ${rounds}: pod IP ${direct.toFixed(0)} MB/s, ClusterIP ${viaVip.toFixed(0)} MB/s: ratio ${(viaVip / direct).toFixed(3)} (goal >= 0.95)`);
  console.log(`latency per request, median: pod IP ${median(perRequestMs['pod IP']!).toFixed(2)} ms, ClusterIP ${median(perRequestMs.ClusterIP!).toFixed(2)} ms`);
} finally {
  await h1.api('DELETE', `${SVCS}/${server}`).catch(() => undefined);
  await h1.api('DELETE', `${PODS}/${server}`).catch(() => undefined);
  await h1.api('DELETE', `${PODS}/${client}`).catch(() => undefined);
  if (broughtUp) await labDown();
}
