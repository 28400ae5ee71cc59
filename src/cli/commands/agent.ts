// `mesh init` (first node of a cluster) and `mesh agent`: run an agent in the
// foreground until SIGINT/SIGTERM (or the io signal), then stop it cleanly.
import type { Command } from 'commander';
import { defaultConfig, dataPaths, type AgentConfig } from '../../agent/config.ts';
import { CliError } from '../cli-error.ts';
import type { CliContext, GlobalOptions } from '../cli-context.ts';

interface AgentOpts {
  apiPort?: string;
  apiHost?: string;
  nodeName?: string;
  nodeLabels?: string;
  logLevel?: string;
  logFile?: string;
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

export function agentConfigFrom(opts: AgentOpts, dataDir: string): AgentConfig {
  const overrides: Partial<AgentConfig> = { dataDir, nodeLabels: parseNodeLabels(opts.nodeLabels) };
  if (opts.apiPort !== undefined) {
    const port = Number(opts.apiPort);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`invalid --api-port "${opts.apiPort}": use 0-65535`);
    overrides.apiPort = port;
  }
  if (opts.apiHost) overrides.apiHost = opts.apiHost;
  if (opts.nodeName) overrides.nodeName = opts.nodeName.toLowerCase();
  if (opts.logLevel) overrides.logLevel = opts.logLevel;
  if (opts.logFile) overrides.logFile = opts.logFile;
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
    ctx.err(`Admin kubeconfig: ${kubeconfig}`);
    ctx.err('');
    ctx.err('Next steps:');
    ctx.err(`  export KUBECONFIG=${kubeconfig}   # or: mesh kubeconfig > ~/.kube/config`);
    ctx.err('  mesh get nodes');
    ctx.err('  mesh apply -f <manifest.yaml>');
    ctx.err('');
  }
  ctx.err('Press Ctrl-C to stop.');
  const why = await untilShutdown(ctx.io.signal);
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
    .option('--node-name <name>', 'name of this node (default: the host name)')
    .option('--node-labels <k=v,...>', 'extra labels for this node')
    .option('--log-level <level>', 'trace, debug, info, warn or error')
    .option('--log-file <path>', 'write the agent log here instead of stdout');
}

export function registerAgent(program: Command, ctx: CliContext): void {
  agentCommand(program, 'init', 'Start the first node of a new cluster (runs in the foreground)').action(
    async (opts: AgentOpts & { dataDir?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      await runAgent(ctx, agentConfigFrom(opts, opts.dataDir ?? ctx.dataDir(g)), true);
    },
  );
  agentCommand(program, 'agent', 'Run an agent on this machine (runs in the foreground)').action(
    async (opts: AgentOpts & { dataDir?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      await runAgent(ctx, agentConfigFrom(opts, opts.dataDir ?? ctx.dataDir(g)), false);
    },
  );
}
