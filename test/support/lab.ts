// The multi-host lab (scripts/lab) for tests: hosts are network namespaces on
// one bridge, each with its own dockerd and agent. Lab tests share the one lab,
// so every lab test file brings it up in `before` and down in `after`, and lab
// files run one at a time.
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT, KUBECTL } from './agent-process.ts';

export const LAB_SCRIPT = join(ROOT, 'scripts/lab');
export const LAB_BRIDGE = 'mesh-lab0';
export const LAB_GATEWAY = '10.77.0.1';
export const LAB_RUN = '/run/mesh-lab';
export const LAB_VAR = '/var/lib/mesh-lab';
export const BUSYBOX_IMAGE = 'mesh.local/busybox:latest';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ApiResponse {
  status: number;
  body: any;
}

export interface LabHost {
  index: number;
  name: string;
  /** Address on the lab bridge; the API listens on ip:6443. */
  ip: string;
  /**
   * The /24 of the host's docker0 (172.30.N.0/24), for containers that are not
   * pods. Pods get their node's spec.podCIDR on the agent's `mesh-pods` network.
   */
  docker0Cidr: string;
  netns: string;
  dataDir: string;
  kubeconfig: string;
  dockerSocket: string;
  agentLog: string;
  dockerdLog: string;
  /**
   * An HTTPS request to this host's API with the admin token and CA from its
   * kubeconfig. It is made from inside the host's namespace, so it works while
   * the host is cut off.
   */
  api(method: string, path: string, body?: unknown, contentType?: string): Promise<ApiResponse>;
  /** kubectl from the root namespace with this host's kubeconfig (fails while cut). */
  kubectl(args: string[], input?: string): Promise<CommandResult>;
  /** Takes the host off the bridge. */
  cut(): Promise<void>;
  heal(): Promise<void>;
  /** kill -9 of the host's agent. */
  kill9(): Promise<void>;
  /** Starts the host's agent again from its data dir and waits for its API. */
  start(): Promise<void>;
  /** Runs a command in the host's namespace (DOCKER_HOST and KUBECONFIG set to the host's). */
  exec(cmd: string[], input?: string): Promise<CommandResult>;
  /** docker against this host's dockerd. */
  docker(args: string[]): Promise<CommandResult>;
}

/**
 * Runs a command to completion. stdin is closed at once when there is no input,
 * and a command that exits without reading its input is not an error.
 */
export function runCommand(cmd: string, args: string[], input?: string, env?: Record<string, string>): Promise<CommandResult> {
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, {
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      ...(env ? { env: { ...process.env, ...env } } : {}),
    });
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (d) => (stdout += d));
    p.stderr!.on('data', (d) => (stderr += d));
    p.on('error', rej);
    p.on('close', (code, signal) => res({ code: code ?? (signal ? 128 : -1), stdout, stderr }));
    if (input !== undefined) {
      p.stdin!.on('error', () => {}); // EPIPE when it exits first; its exit code tells the story
      p.stdin!.end(input);
    }
  });
}

/** Runs scripts/lab and fails with its output when it fails. */
export async function lab(args: string[], env?: Record<string, string>): Promise<CommandResult> {
  const r = await runCommand(LAB_SCRIPT, args, undefined, env);
  if (r.code !== 0) {
    throw new Error(`scripts/lab ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
  }
  return r;
}

/** Brings up hosts h1..hN; with agents: false only namespaces, bridge and dockerds. */
export async function labUp(n = 3, opts: { agents?: boolean; initArgs?: string[] } = {}): Promise<LabHost[]> {
  await lab(['up', String(n), ...(opts.agents === false ? ['--no-agents'] : [])], opts.initArgs ? { MESH_LAB_INIT_ARGS: opts.initArgs.join(' ') } : undefined);
  return Array.from({ length: n }, (_, i) => host(i + 1));
}

export async function labDown(): Promise<void> {
  await lab(['down']);
}

export function host(i: number): LabHost {
  if (!Number.isInteger(i) || i < 1) throw new Error(`lab hosts are numbered from 1, got ${i}`);
  const name = `h${i}`;
  const ip = `10.77.0.${10 + i}`;
  const netns = `mesh-lab-${name}`;
  const dataDir = join(LAB_VAR, name, 'mesh');
  const kubeconfig = join(dataDir, 'admin.kubeconfig');
  const dockerSocket = join(LAB_RUN, name, 'docker.sock');
  const caFile = join(LAB_RUN, name, 'api-ca.crt');

  async function credentials(): Promise<{ token: string }> {
    const kc = parse(await readFile(kubeconfig, 'utf8')) as {
      clusters: { cluster: { 'certificate-authority-data'?: string; 'certificate-authority'?: string } }[];
      users: { user: { token?: string } }[];
    };
    const cluster = kc.clusters[0]!.cluster;
    // The kubeconfig authenticates with the admin client certificate; curl here uses the admin token.
    const token = kc.users[0]?.user.token ?? (await readFile(join(dataDir, 'pki', 'admin.token'), 'utf8')).trim();
    if (cluster['certificate-authority-data']) {
      await writeFile(caFile, Buffer.from(cluster['certificate-authority-data'], 'base64'));
    } else if (cluster['certificate-authority']) {
      await writeFile(caFile, await readFile(join(dataDir, cluster['certificate-authority'])));
    } else {
      throw new Error(`${kubeconfig} names no certificate authority`);
    }
    return { token };
  }

  async function api(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<ApiResponse> {
    const { token } = await credentials();
    const args = [
      `--net=/run/netns/${netns}`, 'curl', '-sS', '--max-time', '10', '--cacert', caFile,
      '-X', method, '-H', `Authorization: Bearer ${token}`, '-H', 'Accept: application/json',
      '-w', '\n%{http_code}',
    ];
    const input = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    if (input !== undefined) args.push('-H', `Content-Type: ${contentType}`, '--data-binary', '@-');
    args.push(`https://${ip}:6443${path}`);
    const r = await runCommand('nsenter', args, input);
    if (r.code !== 0) throw new Error(`${method} ${path} on ${name} failed: ${r.stderr.trim() || `curl exit ${r.code}`}`);
    const cut = r.stdout.lastIndexOf('\n');
    const text = r.stdout.slice(0, cut);
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // plain text (healthz, logs)
    }
    return { status: Number(r.stdout.slice(cut + 1)), body: parsed };
  }

  return {
    index: i,
    name,
    ip,
    docker0Cidr: `172.30.${i}.0/24`,
    netns,
    dataDir,
    kubeconfig,
    dockerSocket,
    agentLog: join(LAB_VAR, name, 'agent.log'),
    dockerdLog: join(LAB_VAR, name, 'dockerd.log'),
    api,
    kubectl: (args, input) => runCommand(KUBECTL, ['--kubeconfig', kubeconfig, ...args], input),
    cut: async () => void (await lab(['cut', String(i)])),
    heal: async () => void (await lab(['heal', String(i)])),
    kill9: async () => void (await lab(['kill', String(i)])),
    start: async () => void (await lab(['start', String(i)])),
    exec: (cmd, input) => runCommand(LAB_SCRIPT, ['exec', String(i), ...cmd], input),
    docker: (args) => runCommand('docker', ['-H', `unix://${dockerSocket}`, ...args]),
  };
}

/** The tail of a host's agent log, for failure messages. */
export async function agentLogTail(h: LabHost, lines = 40): Promise<string> {
  try {
    return (await readFile(h.agentLog, 'utf8')).split('\n').slice(-lines).join('\n');
  } catch {
    return '(no agent log)';
  }
}
