// The agents' own memory and CPU on the 3-host lab, idle and with 100 running
// pods spread over the hosts. DESIGN.md §6: agent memory <= 120 MB idle.
// Run (as root): node bench/agent-resources-lab.bench.ts [pods=100]
// Brings the lab up if it is not, and takes it down again only if it did.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { LAB_RUN, LAB_VAR, labDown, labUp } from '../test/support/lab.ts';

const podCount = Number(process.argv[2] ?? 100);
const SAMPLE_S = 30;
const CLK_TCK = 100;
const broughtUp = !existsSync(join(LAB_RUN, 'h1'));
await labUp(3);

const pki = join(LAB_VAR, 'h1', 'mesh', 'pki');
const agent = new Agent({ ca: await readFile(join(pki, 'ca.crt')), keepAlive: true });
const token = (await readFile(join(pki, 'admin.token'), 'utf8')).trim();
function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '10.77.0.11', port: 6443, method, path, agent, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (data += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data ? JSON.parse(data) : undefined }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

async function agentPids(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const h of ['h1', 'h2', 'h3']) out[h] = Number((await readFile(join(LAB_RUN, h, 'agent.pid'), 'utf8')).trim());
  return out;
}
async function cpuTicks(pid: number): Promise<number> {
  const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime
}
async function rssMb(pid: number): Promise<number> {
  return Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}
/** RSS at the end and average CPU (% of one core) over SAMPLE_S seconds, per agent. */
async function sample(label: string): Promise<void> {
  const pids = await agentPids();
  const t0 = Object.fromEntries(await Promise.all(Object.entries(pids).map(async ([h, p]) => [h, await cpuTicks(p)] as const)));
  await new Promise((r) => setTimeout(r, SAMPLE_S * 1000));
  for (const [h, pid] of Object.entries(pids)) {
    const cpu = ((await cpuTicks(pid)) - t0[h]!) / CLK_TCK / SAMPLE_S;
    console.log(`  ${label.padEnd(22)} ${h}: rss ${(await rssMb(pid)).toFixed(0)} MB, cpu ${(cpu * 100).toFixed(1)}% of a core`);
  }
}

const run = Math.random().toString(36).slice(2, 7);
console.log(`agent memory and CPU on the 3-host lab (averaged over ${SAMPLE_S} s)`);
await sample('idle');
const started = Date.now();
for (let i = 0; i < podCount; i++) {
  const r = await api('POST', '/api/v1/namespaces/default/pods', {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: `load-${run}-${i}`, labels: { bench: run } },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'c', image: 'mesh.local/busybox:latest', imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }],
    },
  });
  if (r.status !== 201) throw new Error(`create pod ${i}: ${r.status} ${JSON.stringify(r.body)}`);
}
const deadline = Date.now() + 300_000;
let running = 0;
while (Date.now() < deadline) {
  const r = await api('GET', `/api/v1/namespaces/default/pods?labelSelector=bench%3D${run}`);
  running = (r.body.items as any[]).filter((p) => p.status?.phase === 'Running').length;
  process.stderr.write(`\r  ${running}/${podCount} pods running (${Math.round((Date.now() - started) / 1000)} s)`);
  if (running === podCount) break;
  await new Promise((r) => setTimeout(r, 2000));
}
process.stderr.write('\n');
console.log(`  ${running}/${podCount} pods running after ${((Date.now() - started) / 1000).toFixed(0)} s`);
await new Promise((r) => setTimeout(r, 10_000));
await sample(`with ${podCount} pods`);

await api('DELETE', `/api/v1/namespaces/default/pods?labelSelector=bench%3D${run}`);
const gone = Date.now() + 120_000;
while (Date.now() < gone) {
  const r = await api('GET', `/api/v1/namespaces/default/pods?labelSelector=bench%3D${run}`);
  if ((r.body.items as any[]).length === 0) break;
  await new Promise((r) => setTimeout(r, 2000));
}
agent.destroy();
if (broughtUp) await labDown();
