// Services, EndpointSlices and network namespaces for the proxy tests.
import { randomBytes } from 'node:crypto';
import { createHostExec, inNetns, mustExec, type HostExec } from '../../../src/agent/host-exec.ts';
import type { EndpointSliceInput, NodeContext, ServiceInput } from '../../../src/agent/proxy/service-model.ts';

export const NODE: NodeContext = {
  nodeName: 'n1',
  nodeIPs: ['192.168.50.10'],
  podCidr: '10.244.1.0/24',
  clusterCidr: '10.244.0.0/16',
  serviceCidr: '10.96.0.0/16',
};

export function service(name: string, spec: ServiceInput['spec'], extra: { namespace?: string; lbIps?: string[] } = {}): ServiceInput {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: extra.namespace ?? 'default', uid: `uid-${name}` },
    spec: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, protocol: 'TCP' }], ...spec },
    ...(extra.lbIps ? { status: { loadBalancer: { ingress: extra.lbIps.map((ip) => ({ ip })) } } } : {}),
  };
}

export interface EndpointSpec {
  ip: string;
  node?: string;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
}

export function slice(
  serviceName: string,
  endpoints: EndpointSpec[],
  opts: { name?: string; namespace?: string; ports?: { name?: string; port: number; protocol?: string }[] } = {},
): EndpointSliceInput {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    addressType: 'IPv4',
    metadata: {
      name: opts.name ?? `${serviceName}-abc`,
      namespace: opts.namespace ?? 'default',
      labels: { 'kubernetes.io/service-name': serviceName },
    },
    ports: (opts.ports ?? [{ name: 'http', port: 8080 }]).map((p) => ({ protocol: 'TCP', ...p })),
    endpoints: endpoints.map((e) => {
      const ready = e.ready ?? true;
      return {
        addresses: [e.ip],
        conditions: { ready, serving: e.serving ?? ready, terminating: e.terminating ?? false },
        ...(e.node ? { nodeName: e.node } : {}),
      };
    }),
  };
}

/** The `-A chain ...` lines of one chain of one table in restore/save text. */
export function chainRules(text: string, table: string, chain: string): string[] {
  const out: string[] = [];
  let inTable = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) inTable = line === `*${table}`;
    else if (inTable && line.startsWith(`-A ${chain} `)) out.push(line);
  }
  return out;
}

/** Chains declared in one table of restore/save text. */
export function declaredChains(text: string, table: string): string[] {
  const out: string[] = [];
  let inTable = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) inTable = line === `*${table}`;
    else if (inTable && line.startsWith(':')) out.push(line.slice(1, line.indexOf(' ')));
  }
  return out;
}

export interface TestNetns {
  name: string;
  /** Runs commands inside the namespace. */
  exec: HostExec;
  remove(): Promise<void>;
}

/** A fresh network namespace (iptables in it start empty); remove() in after(). */
export async function createTestNetns(prefix = 'mesh-proxy-test'): Promise<TestNetns> {
  const host = createHostExec();
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  await mustExec(host, 'ip', ['netns', 'add', name]);
  return {
    name,
    exec: inNetns(host, name),
    async remove() {
      await host('ip', ['netns', 'delete', name]);
    },
  };
}

/** A TCP server inside a namespace that answers every connection with `from <client address>`. */
export async function startEchoServer(netns: string, port: number): Promise<{ stop(): void }> {
  const { spawn } = await import('node:child_process');
  const code = `require('node:net').createServer((s) => s.end('from ' + s.remoteAddress.replace('::ffff:', ''))).listen(${port}, '0.0.0.0', () => console.log('ready'))`;
  const p = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    p.once('exit', (c) => reject(new Error(`echo server in ${netns} exited (${c})`)));
    p.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve();
    });
  });
  return { stop: () => p.kill('SIGKILL') };
}

export interface ConnectResult {
  target: string;
  /** What the server said, when connected. */
  reply?: string;
  /** The error code otherwise (ECONNREFUSED, EINVAL, ETIMEDOUT, ...). */
  error?: string;
}

/** Connects from inside a namespace to each `ip:port` in turn (bounded: one try each, 1 s at most). */
export async function connectFrom(netns: string, targets: string[]): Promise<ConnectResult[]> {
  const code = `
    const net = require('node:net');
    const one = (t) => new Promise((resolve) => {
      const [host, port] = t.split(':');
      const s = net.connect({ host, port: Number(port) });
      let reply = '';
      const timer = setTimeout(() => { s.destroy(); resolve({ target: t, error: 'ETIMEDOUT' }); }, 1000);
      s.on('data', (d) => (reply += d));
      s.on('end', () => { clearTimeout(timer); resolve({ target: t, reply }); });
      s.on('error', (e) => { clearTimeout(timer); resolve({ target: t, error: e.code }); });
    });
    (async () => { const out = []; for (const t of ${JSON.stringify(targets)}) out.push(await one(t)); console.log(JSON.stringify(out)); })();`;
  const r = await mustExec(createHostExec(), 'ip', ['netns', 'exec', netns, process.execPath, '-e', code]);
  return JSON.parse(r) as ConnectResult[];
}
