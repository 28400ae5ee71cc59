// `mesh logs POD`: streams pods/NAME/log to stdout.
import type { Command } from 'commander';
import { findByKind } from '../../agent/api/resources.ts';
import { CliError } from '../cli-error.ts';
import type { CliContext, GlobalOptions } from '../cli-context.ts';
import { resourcePath, resolveType } from '../resource-paths.ts';

interface LogsOpts {
  container?: string;
  follow?: boolean;
  tail?: string;
  timestamps?: boolean;
  previous?: boolean;
}

export function registerLogs(program: Command, ctx: CliContext): void {
  program
    .command('logs')
    .description('Print the logs of a container in a pod')
    .argument('<pod>', 'pod name (or pod/NAME)')
    .option('-c, --container <name>', 'container (required when the pod has several)')
    .option('-f, --follow', 'keep streaming new lines')
    .option('--tail <lines>', 'only the last N lines')
    .option('--timestamps', 'prefix each line with its timestamp')
    .option('-p, --previous', 'logs of the previous, terminated instance')
    .action(async (podArg: string, opts: LogsOpts, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      let name = podArg;
      const slash = podArg.indexOf('/');
      if (slash >= 0) {
        const t = resolveType(podArg.slice(0, slash));
        if (t.kind !== 'Pod') throw new CliError(`logs needs a pod, got ${t.kind}; use "mesh get pods -l ..." to find its pods`);
        name = podArg.slice(slash + 1);
      }
      let tailLines: number | undefined;
      if (opts.tail !== undefined && opts.tail !== '-1') {
        tailLines = Number(opts.tail);
        if (!Number.isInteger(tailLines) || tailLines < 0) throw new CliError(`invalid --tail "${opts.tail}": use a whole number`);
      }
      const client = await ctx.client(g);
      const { namespace } = await ctx.namespace(g);
      const path = resourcePath(findByKind('v1', 'Pod')!, namespace, name, 'log');
      const query = { container: opts.container, follow: opts.follow ? 'true' : undefined, tailLines, timestamps: opts.timestamps ? 'true' : undefined, previous: opts.previous ? 'true' : undefined };
      let res;
      try {
        res = await client.stream(path, { query, accept: '*/*', signal: ctx.io.signal });
      } catch (err) {
        if (ctx.io.signal?.aborted) return;
        throw err;
      }
      try {
        for await (const chunk of res) ctx.io.stdout.write(chunk as Buffer);
      } catch (err) {
        if (!ctx.io.signal?.aborted) throw new CliError(`log stream ended: ${(err as Error).message}`);
      } finally {
        res.destroy();
      }
    });
}
