// `mesh kubeconfig` and `mesh version`.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { dataPaths } from '../../agent/config.ts';
import { MESH_VERSION } from '../../agent/version.ts';
import { CliError } from '../cli-error.ts';
import type { CliContext, GlobalOptions } from '../cli-context.ts';


export function registerInfo(program: Command, ctx: CliContext): void {
  program
    .command('kubeconfig')
    .description("Print the local agent's admin kubeconfig (use: mesh kubeconfig > ~/.kube/config)")
    .option('--data-dir <dir>', 'data directory of the agent')
    .action(async (opts: { dataDir?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const path = dataPaths(opts.dataDir ?? ctx.dataDir(g)).adminKubeconfig;
      try {
        ctx.io.stdout.write(await readFile(path, 'utf8'));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') throw new CliError(`${path} does not exist: has an agent been started with this data directory ("mesh init --data-dir ...")?`);
        throw new CliError(`cannot read ${path}: ${(err as Error).message}`);
      }
    });

  program
    .command('version')
    .description('Print the client and server versions')
    .action(async (_opts: unknown, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      ctx.out(`Client Version: ${MESH_VERSION.gitVersion}`);
      try {
        const client = await ctx.client(g);
        const v = await client.request<{ gitVersion?: string }>('GET', '/version');
        ctx.out(`Server Version: ${v?.gitVersion ?? 'unknown'}`);
      } catch (err) {
        ctx.err(`Server Version: unavailable (${(err as Error).message})`);
      }
    });
}
