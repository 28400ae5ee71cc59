// `mesh init` (first node of a cluster) and `mesh agent`: run an agent in the
// foreground until SIGINT/SIGTERM (or the io signal), then stop it cleanly.
import type { Command } from 'commander';
import { defaultConfig, dataPaths, type AgentConfig } from '../../agent/config.ts';
import { CliError } from '../cli-error.ts';
import { parseTaints } from '../../agent/kubelet/taints.ts';
import { parseEvictionHard, parseReserved, ResourceFlagError } from '../../agent/kubelet/resource-flags.ts';
import type { CliContext, GlobalOptions } from '../cli-context.ts';

interface AgentOpts {
  dataDir?: string;
  apiPort?: string;
  apiHost?: string;
  listenAddress?: string;
  p2pPort?: string;
  dockerSocket?: string;
  podNetwork?: string;
  proxyMode?: string;
  clusterDns?: string;
  token?: string;
  nodeName?: string;
  nodeLabels?: string;
  registerWithTaints?: string;
  logLevel?: string;
  logFile?: string;
  systemReserved?: string;
  kubeReserved?: string;
  evictionHard?: string;
  metricsInterval?: string;
  voters?: string;
  lbPool?: string;
  podEvictionTimeout?: string;
  voterDownTimeout?: string;
}

/** `k=v,k2=v2` to a map; a clear error for a pair without `=`. */
export function parseNodeLabels(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!s) return out;
  for (const pair of s.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CliError(`invalid --node-labels entry "${pair}": use key=value[,key=value...]`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** `10s`, `500ms`, `1m` or plain seconds. */
function parseInterval(flag: string, value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  const ms = m ? Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000) : NaN;
  if (!(ms >= 100)) throw new CliError(`invalid ${flag} "${value}": use a duration of at least 100ms, e.g. 10s`);
  return ms;
}

function parsePort(flag: string, value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`invalid ${flag} "${value}": use 0-65535`);
  return port;
}

export function agentConfigFrom(
  opts: AgentOpts,
  dataDir: string,
  membership: AgentConfig['membership'] = { mode: 'agent' },
): AgentConfig {
  const overrides: Partial<AgentConfig> = { dataDir, nodeLabels: parseNodeLabels(opts.nodeLabels), membership };
  if (opts.apiPort !== undefined) overrides.apiPort = parsePort('--api-port', opts.apiPort);
  if (opts.p2pPort !== undefined) overrides.p2pPort = parsePort('--p2p-port', opts.p2pPort);
  if (opts.apiHost) overrides.apiHost = opts.apiHost;
  // Peers reach this agent where its API is, unless told otherwise.
  const listen = opts.listenAddress ?? (opts.apiHost && opts.apiHost !== '0.0.0.0' ? opts.apiHost : undefined);
  if (listen) overrides.listenAddress = listen;
  if (opts.dockerSocket) overrides.dockerSocket = opts.dockerSocket;
  try {
    overrides.registerTaints = parseTaints(opts.registerWithTaints);
  } catch (err) {
    throw new CliError(`--register-with-taints: ${(err as Error).message}`);
  }
  if (opts.podNetwork) overrides.podNetwork = opts.podNetwork;
  if (opts.proxyMode !== undefined) {
    if (opts.proxyMode !== 'iptables' && opts.proxyMode !== 'none') throw new CliError(`invalid --proxy-mode "${opts.proxyMode}": use iptables or none`);
    overrides.proxyMode = opts.proxyMode;
  }
  if (opts.clusterDns !== undefined) {
    if (opts.clusterDns !== 'on' && opts.clusterDns !== 'none') throw new CliError(`invalid --cluster-dns "${opts.clusterDns}": use on or none`);
    overrides.clusterDns = opts.clusterDns;
  }
  if (opts.nodeName) overrides.nodeName = opts.nodeName.toLowerCase();
  if (opts.logLevel) overrides.logLevel = opts.logLevel;
  if (opts.logFile) overrides.logFile = opts.logFile;
  try {
    overrides.systemReserved = parseReserved('--system-reserved', opts.systemReserved);
    overrides.kubeReserved = parseReserved('--kube-reserved', opts.kubeReserved);
    overrides.evictionHard = parseEvictionHard(opts.evictionHard);
  } catch (err) {
    if (err instanceof ResourceFlagError) throw new CliError(err.message);
    throw err;
  }
  if (opts.metricsInterval !== undefined) overrides.metricsIntervalMs = parseInterval('--metrics-interval', opts.metricsInterval);
  if (opts.voters !== undefined) {
    if (!['1', '3', '5'].includes(opts.voters)) throw new CliError(`invalid --voters "${opts.voters}": use 3 or 5 (1 for a single-machine cluster)`);
    overrides.voters = Number(opts.voters);
  }
  if (opts.lbPool !== undefined) overrides.lbPool = opts.lbPool;
  if (opts.podEvictionTimeout !== undefined) overrides.podEvictionGraceMs = parseInterval('--pod-eviction-timeout', opts.podEvictionTimeout);
  if (opts.voterDownTimeout !== undefined) overrides.voterDownTimeoutMs = parseInterval('--voter-down-timeout', opts.voterDownTimeout);
  return defaultConfig(overrides);
}

/** Resolves on SIGINT/SIGTERM or when the io signal aborts. */
function untilShutdown(signal: AbortSignal | undefined): Promise<string> {
  return new Promise((resolve) => {
    const done = (why: string) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      signal?.removeEventListener('abort', onAbort);
      resolve(why);
    };
    const onInt = () => done('SIGINT');
    const onTerm = () => done('SIGTERM');
    const onAbort = () => done('abort');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
    if (signal?.aborted) return done('abort');
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function runAgent(ctx: CliContext, config: AgentConfig, first: boolean): Promise<void> {
  const { startAgent } = await import('../../agent/agent.ts');
  if (config.membership.mode === 'join') {
    ctx.err(`joining the cluster through ${config.membership.address} (checking the CA against the token)...`);
  }
  let agent;
  try {
    agent = await startAgent(config);
  } catch (err) {
    if (process.env.MESH_DEBUG && err instanceof Error) ctx.err(err.stack ?? '');
    throw new CliError(`the agent failed to start: ${(err as Error).message} (set MESH_DEBUG=1 for details)`);
  }
  const kubeconfig = agent.kubeconfigPath ?? dataPaths(config.dataDir).adminKubeconfig;
  ctx.err(`Mesh agent "${config.nodeName}" is running; API at ${agent.url ?? `https://${config.apiHost}:${config.apiPort}`}`);
  if (first) {
    ctx.err('');
    ctx.err('To add a machine to this cluster, run on it:');
    // On a line of its own, so scripts can pick it up.
    ctx.out(`mesh join ${agent.joinAddress} --token ${agent.joinToken}`);
    ctx.err(`(the token is also in ${dataPaths(config.dataDir).joinToken})`);
    ctx.err('');
    ctx.err(`Admin kubeconfig: ${kubeconfig}`);
    ctx.err('');
    ctx.err('Next steps:');
    ctx.err(`  export KUBECONFIG=${kubeconfig}   # or: mesh kubeconfig > ~/.kube/config`);
    ctx.err('  mesh get nodes');
    ctx.err('  mesh apply -f <manifest.yaml>');
    ctx.err('');
  }
  ctx.err('Press Ctrl-C to stop.');
  const why = await Promise.race([untilShutdown(ctx.io.signal), agent.left.then(() => 'left the cluster')]);
  ctx.err(`Stopping (${why})...`);
  await agent.stop();
  ctx.err('Stopped.');
}

function agentCommand(program: Command, name: string, description: string): Command {
  return program
    .command(name)
    .description(description)
    .option('--data-dir <dir>', 'where state, certificates and the kubeconfig live (default $MESH_DATA_DIR or /var/lib/mesh)')
    .option('--api-port <port>', 'HTTPS port of the Kubernetes API (default 6443)')
    .option('--api-host <host>', 'address the API listens on (default 127.0.0.1)')
    .option('--listen-address <ip>', 'address for peer-to-peer traffic (default: the --api-host, else 127.0.0.1)')
    .option('--p2p-port <port>', 'peer-to-peer TCP port (default 7946)')
    .option('--docker-socket <path>', 'Docker daemon socket (default /var/run/docker.sock)')
    .option('--pod-network <name>', 'pod network: mesh (default: a bridge on this node\'s pod CIDR, routed to the other nodes) or a Docker network to use as it is')
    .option('--proxy-mode <mode>', 'service routing: iptables (default) or none')
    .option('--cluster-dns <mode>', 'cluster DNS for this node\'s pods: on (default) or none')
    .option('--node-name <name>', 'name of this node (default: the host name)')
    .option('--node-labels <k=v,...>', 'extra labels for this node')
    .option('--register-with-taints <k=v:Effect,...>', 'taints this node registers with (e.g. gpu=true:NoSchedule)')
    .option('--log-level <level>', 'trace, debug, info, warn or error')
    .option('--log-file <path>', 'write the agent log here instead of stdout')
    .option('--system-reserved <cpu=500m,memory=1Gi,...>', 'resources kept back from pods for the OS (cpu, memory, ephemeral-storage, pid)')
    .option('--kube-reserved <cpu=500m,memory=1Gi,...>', 'resources kept back from pods for Mesh itself')
    .option('--eviction-hard <threshold>', 'evict pods when node memory falls below this, e.g. memory.available<100Mi (default; a quantity or %; "" turns eviction off)')
    .option('--metrics-interval <duration>', 'time between usage samples for "kubectl top" (default 10s)')
    .option('--pod-eviction-timeout <duration>', 'delete the pods of a node unreachable this long, so they are replaced elsewhere (default 5s)')
    .option('--voter-down-timeout <duration>', 'replace a Raft voter that is down this long by a healthy agent (default 30s)');
}

export function registerAgent(program: Command, ctx: CliContext): void {
  const dataDirOf = (opts: AgentOpts, cmd: Command) => opts.dataDir ?? ctx.dataDir(cmd.optsWithGlobals<GlobalOptions>());
  agentCommand(program, 'init', 'Found a new cluster with this machine as its first node (runs in the foreground)')
    .option('--voters <n>', 'Raft voters the cluster keeps: 3 (default) or 5')
    .option('--lb-pool <range>', 'LoadBalancer IPs to hand out: a CIDR (10.0.0.200/29) or a range (10.0.0.200-10.0.0.220)')
    .action(
    async (opts: AgentOpts, cmd: Command) => {
      await runAgent(ctx, agentConfigFrom(opts, dataDirOf(opts, cmd), { mode: 'init' }), true);
    },
  );
  agentCommand(program, 'join', 'Join this machine to a cluster through one member (runs in the foreground)')
    .argument('<address>', 'a member\'s peer-to-peer address, HOST:PORT (printed by "mesh init")')
    .requiredOption('--token <token>', 'the join token printed by "mesh init"')
    .action(async (address: string, opts: AgentOpts, cmd: Command) => {
      if (!/^[^\s:]+:\d+$|^\[[0-9a-fA-F:]+\]:\d+$/.test(address)) {
        throw new CliError(`invalid address "${address}": use HOST:PORT, e.g. 10.0.0.1:7946`);
      }
      const membership = { mode: 'join' as const, address, token: opts.token! };
      await runAgent(ctx, agentConfigFrom(opts, dataDirOf(opts, cmd), membership), false);
    });
  agentCommand(program, 'agent', 'Run this machine\'s agent: rejoins its cluster from the data directory (runs in the foreground)').action(
    async (opts: AgentOpts, cmd: Command) => {
      await runAgent(ctx, agentConfigFrom(opts, dataDirOf(opts, cmd), { mode: 'agent' }), false);
    },
  );
}
