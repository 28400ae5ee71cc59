// Runs a real agent (`bin/mesh agent`) in a child process for e2e tests, with
// its own node name, data directory and port, and removes everything it made.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Agent, request } from 'node:https';
import { parse } from 'yaml';

const run = promisify(execFile);
export const ROOT = resolve(import.meta.dirname, '../..');
export const MESH_BIN = join(ROOT, 'bin/mesh');
export const KUBECTL = '/usr/bin/kubectl';

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
  });
}

export interface AgentProcess {
  nodeName: string;
  dataDir: string;
  port: number;
  /** libp2p port; `127.0.0.1:<p2pPort>` is this agent's join address. */
  p2pPort: number;
  kubeconfig: string;
  /** Output of the agent so far, for failure messages. */
  output(): string;
  /** The agent's process id (the node process). */
  pid(): number;
  /** Graceful stop (SIGTERM) and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit. */
  kill9(): Promise<void>;
  /** Starts the agent again on the same data dir and port. */
  restart(): Promise<void>;
  /** Stops the agent, removes its containers and its data directory. */
  destroy(): Promise<void>;
  /** A raw HTTPS request authenticated with the admin token. */
  api(method: string, path: string, body?: unknown, contentType?: string): Promise<{ status: number; body: any }>;
}

export interface StartOptions {
  prefix?: string;
  /** Join the cluster of this agent instead of founding one. */
  joinVia?: AgentProcess;
  /** Join with this token instead of joinVia's real one (refusal tests). */
  token?: string;
  /** Extra `mesh agent` flags, e.g. ['--metrics-interval', '2s']. */
  args?: string[];
}

export async function startAgentProcess(opts: StartOptions = {}): Promise<AgentProcess> {
  const nodeName = `${opts.prefix ?? 'e2e'}-${Math.random().toString(36).slice(2, 8)}`;
  const dataDir = await mkdtemp(join(tmpdir(), `mesh-${nodeName}-`));
  const port = await freePort();
  const p2pPort = await freePort();
  let firstStart = true;
  const kubeconfig = join(dataDir, 'admin.kubeconfig');
  let child: ChildProcess | undefined;
  let out = '';
  let exited: Promise<void> = Promise.resolve();

  async function launch(): Promise<void> {
    out = '';
    // Several agents share this machine's network namespace and dockerd: none of
    // them may own the pod network, the service rules or port 53 (the lab tests those).
    const shared = ['--pod-network', 'bridge', '--proxy-mode', 'none', '--cluster-dns', 'none'];
    const common = ['--data-dir', dataDir, '--api-port', String(port), '--p2p-port', String(p2pPort), '--node-name', nodeName, ...shared, ...(opts.args ?? [])];
    let args = ['agent', ...common];
    if (firstStart && opts.joinVia) {
      const token = opts.token ?? (await readFile(join(opts.joinVia.dataDir, 'join-token'), 'utf8')).trim();
      args = ['join', `127.0.0.1:${opts.joinVia.p2pPort}`, '--token', token, ...common];
    }
    firstStart = false;
    child = spawn(MESH_BIN, [...args, '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    exited = new Promise((res) => child!.once('exit', () => res()));
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`agent exited early:\n${out}`);
      try {
        const r = await api('GET', '/readyz');
        if (r.status === 200) return;
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`agent did not become ready in 30 s:\n${out}`);
  }

  async function token(): Promise<string> {
    return (await readFile(join(dataDir, 'pki', 'admin.token'), 'utf8')).trim();
  }

  async function api(method: string, path: string, body?: unknown, contentType = 'application/json') {
    const t = await token();
    const ca = await readFile(join(dataDir, 'pki', 'ca.crt'));
    return new Promise<{ status: number; body: any }>((res, rej) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path,
          method,
          agent: new Agent({ ca }),
          headers: {
            Authorization: `Bearer ${t}`,
            Accept: 'application/json',
            ...(body !== undefined ? { 'Content-Type': contentType } : {}),
          },
        },
        (resp) => {
          let data = '';
          resp.on('data', (d) => (data += d));
          resp.on('end', () => {
            let parsed: unknown = data;
            try {
              parsed = JSON.parse(data);
            } catch {
              // plain text (logs, healthz)
            }
            res({ status: resp.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.on('error', rej);
      req.setTimeout(10_000, () => req.destroy(new Error(`timeout: ${method} ${path}`)));
      if (body !== undefined) req.end(typeof body === 'string' ? body : JSON.stringify(body));
      else req.end();
    });
  }

  async function signal(sig: NodeJS.Signals): Promise<void> {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill(sig);
      await exited;
    }
  }

  try {
    await launch();
  } catch (err) {
    // A refused start (e.g. a join with a bad token) must not leave its data behind.
    await signal('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    nodeName,
    dataDir,
    port,
    p2pPort,
    kubeconfig,
    output: () => out,
    pid: () => child!.pid!,
    stop: () => signal('SIGTERM'),
    kill9: () => signal('SIGKILL'),
    restart: launch,
    async destroy() {
      await signal('SIGTERM');
      await removeNodeContainers(nodeName);
      await rm(dataDir, { recursive: true, force: true });
    },
    api,
  };
}

export async function removeNodeContainers(nodeName: string): Promise<void> {
  const { stdout } = await run('docker', ['ps', '-aq', '--filter', `label=io.mesh.node=${nodeName}`]);
  const ids = stdout.split('\n').filter(Boolean);
  if (ids.length) await run('docker', ['rm', '-f', ...ids]);
}

export async function kubectl(agent: AgentProcess, args: string[], input?: string) {
  return runCommand(KUBECTL, ['--kubeconfig', agent.kubeconfig, ...args], input);
}

export async function mesh(agent: AgentProcess, args: string[], input?: string) {
  return runCommand(MESH_BIN, ['--kubeconfig', agent.kubeconfig, ...args], input);
}

export async function runCommand(
  cmd: string,
  args: string[],
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => res({ code: code ?? -1, stdout, stderr }));
    // A command that exits before reading its input must not crash the test with EPIPE.
    p.stdin.on('error', () => {});
    p.stdin.end(input ?? '');
  });
}

/** Polls until fn returns a truthy value or the time runs out. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

export function kubeconfigServer(text: string): string {
  return (parse(text) as { clusters: { cluster: { server: string } }[] }).clusters[0]!.cluster.server;
}
