// `mesh top pods` and `mesh top nodes`: usage from the metrics.k8s.io API, in
// kubectl top's columns.
import type { Command } from 'commander';
import { CliError } from '../cli-error.ts';
import type { CliContext, GlobalOptions } from '../cli-context.ts';
import { alignTabs } from '../tab-align.ts';
import { cpuCell, cpuPercentCell, memoryCell, memoryPercentCell, podTotals, type UsageDoc } from '../top-format.ts';

const METRICS = '/apis/metrics.k8s.io/v1beta1';

interface Meta {
  name: string;
  namespace?: string;
}
interface PodMetrics {
  metadata: Meta;
  containers: { name: string; usage: UsageDoc }[];
}
interface NodeMetrics {
  metadata: Meta;
  usage: UsageDoc;
}
interface NodeObject {
  metadata: Meta;
  status?: { allocatable?: UsageDoc };
}

interface TopOpts {
  allNamespaces?: boolean;
  selector?: string;
  /** false with --no-headers (commander negation). */
  headers?: boolean;
}

async function metricsAvailable(ctx: CliContext, g: GlobalOptions): Promise<void> {
  const client = await ctx.client(g);
  const groups = await client.request<{ groups?: { name: string }[] }>('GET', '/apis');
  if (!groups.groups?.some((x) => x.name === 'metrics.k8s.io')) throw new CliError('Metrics API not available');
}

export function registerTop(program: Command, ctx: CliContext): void {
  const top = program.command('top').description('Show CPU and memory use of pods or nodes');

  top
    .command('pods')
    .alias('pod')
    .alias('po')
    .description('Show CPU and memory use of pods')
    .argument('[name]', 'one pod')
    .option('-A, --all-namespaces', 'pods of every namespace')
    .option('-l, --selector <selector>', 'label selector')
    .option('--no-headers', 'leave out the header line')
    .action(async (name: string | undefined, opts: TopOpts, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      await metricsAvailable(ctx, g);
      const client = await ctx.client(g);
      const ns = (await ctx.namespace(g)).namespace;
      let items: PodMetrics[];
      if (name) {
        items = [await client.request<PodMetrics>('GET', `${METRICS}/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(name)}`)];
      } else {
        const path = opts.allNamespaces ? `${METRICS}/pods` : `${METRICS}/namespaces/${encodeURIComponent(ns)}/pods`;
        items = (await client.request<{ items: PodMetrics[] }>('GET', path, { query: { labelSelector: opts.selector } })).items ?? [];
      }
      if (items.length === 0) {
        throw new CliError(opts.allNamespaces ? 'metrics not available yet' : `No resources found in ${ns} namespace.`);
      }
      const all = !!opts.allNamespaces && !name;
      const lines: string[] = [];
      if (opts.headers !== false) lines.push(`${all ? 'NAMESPACE\t' : ''}NAME\tCPU(cores)\tMEMORY(bytes)\t`);
      for (const p of items) {
        const t = podTotals(p.containers);
        lines.push(`${all ? `${p.metadata.namespace}\t` : ''}${p.metadata.name}\t${cpuCell(t.cpu)}\t${memoryCell(t.memory)}\t`);
      }
      for (const l of alignTabs(lines, 3)) ctx.out(l);
    });

  top
    .command('nodes')
    .alias('node')
    .alias('no')
    .description('Show CPU and memory use of nodes')
    .argument('[name]', 'one node')
    .option('-l, --selector <selector>', 'label selector')
    .option('--no-headers', 'leave out the header line')
    .action(async (name: string | undefined, opts: TopOpts, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      await metricsAvailable(ctx, g);
      const client = await ctx.client(g);
      let metrics: NodeMetrics[];
      let nodes: NodeObject[];
      if (name) {
        metrics = [await client.request<NodeMetrics>('GET', `${METRICS}/nodes/${encodeURIComponent(name)}`)];
        nodes = [await client.request<NodeObject>('GET', `/api/v1/nodes/${encodeURIComponent(name)}`)];
      } else {
        const query = { labelSelector: opts.selector };
        metrics = (await client.request<{ items: NodeMetrics[] }>('GET', `${METRICS}/nodes`, { query })).items ?? [];
        nodes = (await client.request<{ items: NodeObject[] }>('GET', '/api/v1/nodes', { query })).items ?? [];
      }
      if (metrics.length === 0) throw new CliError('metrics not available yet');
      const usageOf = new Map(metrics.map((m) => [m.metadata.name, m.usage]));
      const lines: string[] = [];
      if (opts.headers !== false) lines.push('NAME\tCPU(cores)\tCPU(%)\tMEMORY(bytes)\tMEMORY(%)\t');
      for (const n of nodes) {
        const u = usageOf.get(n.metadata.name);
        const alloc = n.status?.allocatable ?? {};
        if (!u) {
          lines.push(`${n.metadata.name}\t<unknown>\t<unknown>\t<unknown>\t<unknown>\t`);
          continue;
        }
        lines.push(
          `${n.metadata.name}\t${cpuCell(u.cpu)}\t${cpuPercentCell(u.cpu, alloc.cpu)}\t${memoryCell(u.memory)}\t${memoryPercentCell(u.memory, alloc.memory)}\t`,
        );
      }
      for (const l of alignTabs(lines, 3)) ctx.out(l);
    });
}
