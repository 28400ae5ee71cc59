// `mesh rollout status deployment/NAME` (waits, printing progress, with the rules
// and wording of kubectl's) and `mesh scale TYPE/NAME --replicas N` (through the
// /scale subresource, as kubectl scale does).
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

export function registerRollout(program: Command, ctx: CliContext): void {
  const rollout = program.command('rollout').description('Manage the rollout of a Deployment');
  rollout
    .command('status')
    .description('Wait until a Deployment has rolled out, showing its progress')
    .argument('<target>', 'deployment/NAME (or "deployment NAME")')
    .argument('[name]')
    .option('--timeout <duration>', 'give up after this long (e.g. 5m); 0 = never')
    .option('-w, --watch [bool]', 'keep waiting until done (default true)')
    .action(async (target: string, name: string | undefined, opts: { timeout?: string; watch?: string | boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const [tg] = parseTargets(name ? [target, name] : [target]);
      if (!tg || tg.names.length !== 1) throw new CliError('give one deployment, e.g. "mesh rollout status deployment/web"');
      if (tg.type.kind !== 'Deployment') throw new CliError(`rollout status works on deployments, not ${tg.type.plural}`);
      const { namespace } = await ctx.namespace(g);
      const client = await ctx.client(g);
      const timeoutMs = parseTimeout(opts.timeout);
      const watch = opts.watch === undefined || opts.watch === true || opts.watch === 'true';
      const started = Date.now();
      let last = '';
      for (;;) {
        const d = await client.request<DeploymentView>('GET', resourcePath(tg.type, namespace, tg.names[0]!));
        const state = deploymentRolloutState(d);
        if ('failed' in state) throw new CliError(`error: ${state.failed}`);
        if (state.message !== last) ctx.out(state.message);
        last = state.message;
        if (state.done || !watch) return;
        if (timeoutMs && Date.now() - started > timeoutMs) throw new CliError(`error: timed out waiting for the rollout of deployment "${tg.names[0]}"`);
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
