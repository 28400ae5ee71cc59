// `mesh rollout status deployment/NAME` or `statefulset/NAME` (waits, printing
// progress, with the rules and wording of kubectl's status viewers) and
// `mesh scale TYPE/NAME --replicas N` (through the /scale subresource, as kubectl scale does).
import type { Command } from 'commander';
import type { KubeObject } from '../../agent/api/object-types.ts';
import { CliError } from '../cli-error.ts';
import { sleep, type CliContext, type GlobalOptions } from '../cli-context.ts';
import { parseTargets, resourcePath, typePrefix } from '../resource-paths.ts';
import { parseTimeout } from './delete.ts';

interface DeploymentView extends KubeObject {
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; status: string; reason?: string }[];
  };
}

export type RolloutState = { done: true; message: string } | { done: false; message: string } | { failed: string };

/** Where a Deployment's rollout stands, as kubectl's DeploymentStatusViewer judges it. */
export function deploymentRolloutState(d: DeploymentView): RolloutState {
  const name = d.metadata.name;
  const s = d.status ?? {};
  if ((d.metadata.generation ?? 0) > (s.observedGeneration ?? 0)) return { done: false, message: 'Waiting for deployment spec update to be observed...' };
  const progressing = s.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded') return { failed: `deployment "${name}" exceeded its progress deadline` };
  const want = d.spec?.replicas ?? 1;
  const updated = s.updatedReplicas ?? 0;
  const total = s.replicas ?? 0;
  const available = s.availableReplicas ?? 0;
  const waiting = `Waiting for deployment "${name}" rollout to finish: `;
  if (updated < want) return { done: false, message: `${waiting}${updated} out of ${want} new replicas have been updated...` };
  if (total > updated) return { done: false, message: `${waiting}${total - updated} old replicas are pending termination...` };
  if (available < updated) return { done: false, message: `${waiting}${available} of ${updated} updated replicas are available...` };
  return { done: true, message: `deployment "${name}" successfully rolled out` };
}

interface StatefulSetView extends KubeObject {
  spec?: { replicas?: number; updateStrategy?: { type?: string; rollingUpdate?: { partition?: number } | null } | null };
  status?: {
    observedGeneration?: number;
    readyReplicas?: number;
    currentReplicas?: number;
    updatedReplicas?: number;
    currentRevision?: string;
    updateRevision?: string;
  };
}

/** Where a StatefulSet's rollout stands, as kubectl's StatefulSetStatusViewer judges it. */
export function statefulSetRolloutState(sts: StatefulSetView): RolloutState {
  const spec = sts.spec ?? {};
  const s = sts.status ?? {};
  if ((spec.updateStrategy?.type ?? 'RollingUpdate') !== 'RollingUpdate') return { failed: 'rollout status is only available for RollingUpdate strategy type' };
  if (!s.observedGeneration || (sts.metadata.generation ?? 0) > s.observedGeneration) return { done: false, message: 'Waiting for statefulset spec update to be observed...' };
  const ready = s.readyReplicas ?? 0;
  const updated = s.updatedReplicas ?? 0;
  if (spec.replicas !== undefined && ready < spec.replicas) return { done: false, message: `Waiting for ${spec.replicas - ready} pods to be ready...` };
  const ru = spec.updateStrategy?.rollingUpdate;
  if (ru) {
    if (spec.replicas !== undefined && ru.partition !== undefined && updated < spec.replicas - ru.partition) {
      return { done: false, message: `Waiting for partitioned roll out to finish: ${updated} out of ${spec.replicas - ru.partition} new pods have been updated...` };
    }
    return { done: true, message: `partitioned roll out complete: ${updated} new pods have been updated...` };
  }
  if (s.updateRevision !== s.currentRevision) {
    return { done: false, message: `waiting for statefulset rolling update to complete ${updated} pods at revision ${s.updateRevision ?? ''}...` };
  }
  return { done: true, message: `statefulset rolling update complete ${s.currentReplicas ?? 0} pods at revision ${s.currentRevision ?? ''}...` };
}

const ROLLOUT_STATES: Record<string, (o: KubeObject) => RolloutState> = {
  Deployment: deploymentRolloutState,
  StatefulSet: statefulSetRolloutState,
};

export function registerRollout(program: Command, ctx: CliContext): void {
  const rollout = program.command('rollout').description('Manage the rollout of a Deployment or StatefulSet');
  rollout
    .command('status')
    .description('Wait until a Deployment or StatefulSet has rolled out, showing its progress')
    .argument('<target>', 'deployment/NAME or statefulset/NAME (or "deployment NAME")')
    .argument('[name]')
    .option('--timeout <duration>', 'give up after this long (e.g. 5m); 0 = never')
    .option('-w, --watch [bool]', 'keep waiting until done (default true)')
    .action(async (target: string, name: string | undefined, opts: { timeout?: string; watch?: string | boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const [tg] = parseTargets(name ? [target, name] : [target]);
      if (!tg || tg.names.length !== 1) throw new CliError('give one deployment or statefulset, e.g. "mesh rollout status deployment/web"');
      const judge = ROLLOUT_STATES[tg.type.kind];
      if (!judge) throw new CliError(`rollout status works on deployments and statefulsets, not ${tg.type.plural}`);
      const { namespace } = await ctx.namespace(g);
      const client = await ctx.client(g);
      const timeoutMs = parseTimeout(opts.timeout);
      const watch = opts.watch === undefined || opts.watch === true || opts.watch === 'true';
      const started = Date.now();
      let last = '';
      for (;;) {
        const obj = await client.request<KubeObject>('GET', resourcePath(tg.type, namespace, tg.names[0]!));
        const state = judge(obj);
        if ('failed' in state) throw new CliError(`error: ${state.failed}`);
        if (state.message !== last) ctx.out(state.message);
        last = state.message;
        if (state.done || !watch) return;
        if (timeoutMs && Date.now() - started > timeoutMs) throw new CliError(`error: timed out waiting for the rollout of ${tg.type.kind.toLowerCase()} "${tg.names[0]}"`);
        await sleep(500, ctx.io.signal);
      }
    });
}

export function registerScale(program: Command, ctx: CliContext): void {
  program
    .command('scale')
    .description('Set the replicas of a Deployment, ReplicaSet or StatefulSet')
    .argument('<target>', 'TYPE/NAME (or "TYPE NAME")')
    .argument('[name]')
    .requiredOption('--replicas <n>', 'the new number of replicas')
    .action(async (target: string, name: string | undefined, opts: { replicas: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const replicas = Number(opts.replicas);
      if (!Number.isInteger(replicas) || replicas < 0) throw new CliError(`invalid --replicas "${opts.replicas}": use a whole number, 0 or more`);
      const [tg] = parseTargets(name ? [target, name] : [target]);
      if (!tg || tg.names.length !== 1) throw new CliError('give one object, e.g. "mesh scale deployment/web --replicas 3"');
      if (!tg.type.subresources.includes('scale')) throw new CliError(`${tg.type.plural} cannot be scaled`);
      const { namespace } = await ctx.namespace(g);
      const client = await ctx.client(g);
      const path = resourcePath(tg.type, namespace, tg.names[0]!, 'scale');
      const scale = await client.request<KubeObject & { spec?: { replicas?: number } }>('GET', path);
      await client.request('PUT', path, { body: { ...scale, spec: { ...scale.spec, replicas } } });
      ctx.out(`${typePrefix(tg.type)}/${tg.names[0]} scaled`);
    });
}
