// The CLI as a function: argv in, exit code out, output to the given streams.
// main.ts wraps it for the process; tests call it directly.
import { Command, CommanderError } from 'commander';
import { CliError, errorLine } from './cli-error.ts';
import { createCliContext, type CliIo } from './cli-context.ts';
import { registerAgent } from './commands/agent.ts';
import { registerApply } from './commands/apply.ts';
import { registerDelete } from './commands/delete.ts';
import { registerDescribe } from './commands/describe.ts';
import { registerGet } from './commands/get.ts';
import { registerInfo } from './commands/info.ts';
import { registerLogs } from './commands/logs.ts';
import { registerMesh } from './commands/mesh.ts';
import { registerTop } from './commands/top.ts';
import { registerRollout, registerScale } from './commands/rollout.ts';
import { registerAutoscale } from './commands/autoscale.ts';
import type { ManifestValidator } from './manifests.ts';

export type { CliIo };

export interface RunOptions {
  /** Replaces the server's admission checks in `apply` (tests). */
  validatorLoader?: () => Promise<ManifestValidator>;
}

export function buildProgram(io: CliIo, opts: RunOptions = {}): Command {
  const ctx = createCliContext(io);
  const program = new Command('mesh')
    .description('Mesh: a peer-to-peer container orchestrator that speaks the Kubernetes API')
    .option('--kubeconfig <path>', 'kubeconfig to use (default $KUBECONFIG, else the local agent admin kubeconfig)')
    .option('--context <name>', 'kubeconfig context to use')
    .option('-n, --namespace <ns>', 'namespace (default: the context namespace, else "default")')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
    });
  registerAgent(program, ctx);
  registerApply(program, ctx, opts.validatorLoader);
  registerGet(program, ctx);
  registerDescribe(program, ctx);
  registerDelete(program, ctx);
  registerLogs(program, ctx);
  registerInfo(program, ctx);
  registerMesh(program, ctx);
  registerTop(program, ctx);
  registerRollout(program, ctx);
  registerScale(program, ctx);
  registerAutoscale(program, ctx);
  for (const c of program.commands) {
    c.exitOverride();
    c.configureOutput({ writeOut: (s) => void io.stdout.write(s), writeErr: (s) => void io.stderr.write(s) });
  }
  return program;
}

export async function runCli(argv: string[], io: CliIo, opts: RunOptions = {}): Promise<number> {
  const program = buildProgram(io, opts);
  if (argv.length === 0) {
    program.outputHelp({ error: true });
    return 1;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; usage errors were already printed by commander.
      return err.exitCode;
    }
    if (err instanceof CliError) {
      if (err.message) io.stderr.write(errorLine(err) + '\n');
      return err.exitCode;
    }
    // A bug, not user error: still one line, but ask for MESH_DEBUG to see the stack.
    io.stderr.write(errorLine(err) + '\n');
    if (process.env.MESH_DEBUG && err instanceof Error && err.stack) io.stderr.write(err.stack + '\n');
    return 1;
  }
}
