// `mesh autoscale TYPE/NAME --max M [--min N] [--cpu-percent P]`: creates an
// autoscaling/v2 HorizontalPodAutoscaler for a Deployment, ReplicaSet or
// StatefulSet, the object `kubectl autoscale` creates.
import type { Command } from 'commander';
import type { KubeObject } from '../../agent/api/object-types.ts';
import { findByKey, groupVersion, type ResourceType } from '../../agent/api/resources.ts';
import { CliError } from '../cli-error.ts';
import type { CliContext, GlobalOptions } from '../cli-context.ts';
import { parseTargets, resourcePath, typePrefix } from '../resource-paths.ts';

const HPA_KEY = 'horizontalpodautoscalers.autoscaling';

export interface AutoscaleOptions {
  min?: number;
  max: number;
  cpuPercent?: number;
  name?: string;
}

function wholeNumber(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n)) throw new CliError(`invalid ${flag} "${text}": use a whole number`);
  return n;
}

/** The HPA `kubectl autoscale` would create (flags that kubectl treats as unset when negative are left out). */
export function autoscalerFor(target: ResourceType, name: string, namespace: string, o: AutoscaleOptions): KubeObject {
  if (o.max < 1) throw new CliError(`--max=MAXPODS is required and must be at least 1, max: ${o.max}`);
  if (o.min !== undefined && o.max < o.min) throw new CliError(`--max=MAXPODS must be larger or equal to --min=MINPODS, max: ${o.max}, min: ${o.min}`);
  const spec: Record<string, unknown> = {
    scaleTargetRef: { apiVersion: groupVersion(target), kind: target.kind, name },
    maxReplicas: o.max,
  };
  if (o.min !== undefined && o.min > 0) spec.minReplicas = o.min;
  if (o.cpuPercent !== undefined && o.cpuPercent > 0) {
    spec.metrics = [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: o.cpuPercent } } }];
  }
  return { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: o.name || name, namespace }, spec };
}

export function registerAutoscale(program: Command, ctx: CliContext): void {
  program
    .command('autoscale')
    .description('Create a HorizontalPodAutoscaler that sets the replicas of a Deployment, ReplicaSet or StatefulSet from its CPU use')
    .argument('<target>', 'TYPE/NAME (or "TYPE NAME")')
    .argument('[name]')
    .requiredOption('--max <n>', 'the most replicas the autoscaler may set')
    .option('--min <n>', 'the fewest replicas it may set (default 1)')
    .option('--cpu-percent <p>', "target average CPU use, in percent of the pods' CPU requests (default 80)")
    .option('--name <name>', "name of the HorizontalPodAutoscaler (default: the target's)")
    .action(async (target: string, name: string | undefined, flags: { max: string; min?: string; cpuPercent?: string; name?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const [tg] = parseTargets(name ? [target, name] : [target]);
      if (!tg || tg.names.length !== 1) throw new CliError('give one object, e.g. "mesh autoscale deployment/web --max 5"');
      if (!tg.type.subresources.includes('scale')) throw new CliError(`cannot autoscale a ${tg.type.kind}: it has no scale subresource`);
      const hpaType = findByKey(HPA_KEY);
      if (!hpaType) throw new CliError('this version of mesh does not know HorizontalPodAutoscalers');
      const { namespace } = await ctx.namespace(g);
      const hpa = autoscalerFor(tg.type, tg.names[0]!, namespace, {
        max: wholeNumber('--max', flags.max)!,
        min: wholeNumber('--min', flags.min),
        cpuPercent: wholeNumber('--cpu-percent', flags.cpuPercent),
        name: flags.name,
      });
      const client = await ctx.client(g);
      // As kubectl does: the target must exist before anything is created for it.
      await client.request('GET', resourcePath(tg.type, namespace, tg.names[0]!));
      const created = await client.request<KubeObject>('POST', resourcePath(hpaType, namespace), { body: hpa });
      ctx.out(`${typePrefix(hpaType)}/${created.metadata?.name ?? hpa.metadata.name} autoscaled`);
    });
}
