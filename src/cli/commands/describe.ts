// `mesh describe TYPE [NAME...]`: kubectl-like descriptions plus Events.
import type { Command } from 'commander';
import type { KubeList, KubeObject, Pod } from '../../agent/api/object-types.ts';
import { findByKind, type ResourceType } from '../../agent/api/resources.ts';
import { CliError, errorLine } from '../cli-error.ts';
import type { CliContext, GlobalOptions } from '../cli-context.ts';
import type { ApiClient } from '../client.ts';
import { describeGeneric, describePod, type KubeEvent } from '../describe.ts';
import { parseTargets, resourcePath } from '../resource-paths.ts';

async function eventsFor(client: ApiClient, obj: KubeObject): Promise<KubeEvent[]> {
  const evType = findByKind('v1', 'Event')!;
  const { name, namespace, uid } = obj.metadata;
  const ns = namespace ?? 'default';
  const sel = [`involvedObject.name=${name}`, `involvedObject.namespace=${ns}`, uid ? `involvedObject.uid=${uid}` : ''].filter(Boolean).join(',');
  try {
    const list = await client.request<KubeList<KubeEvent>>('GET', resourcePath(evType, ns), { query: { fieldSelector: sel } });
    return list.items;
  } catch {
    // A server without event field selectors: filter here instead.
    const list = await client.request<KubeList<KubeEvent>>('GET', resourcePath(evType, ns));
    return list.items.filter((e) => {
      const io = (e as { involvedObject?: { name?: string; uid?: string } }).involvedObject;
      return io?.name === name && (!uid || !io?.uid || io?.uid === uid);
    });
  }
}

export function renderDescription(t: ResourceType, obj: KubeObject, events: KubeEvent[] | undefined, now = new Date()): string {
  return t.kind === 'Pod' ? describePod(obj as Pod, events, now) : describeGeneric(obj, t.namespaced, events, now);
}

export function registerDescribe(program: Command, ctx: CliContext): void {
  program
    .command('describe')
    .description('Show details of objects and their recent events')
    .argument('<type>', 'resource type or TYPE/NAME')
    .argument('[names...]', 'object names (all objects of the type when omitted)')
    .option('-l, --selector <selector>', 'label selector when no names are given')
    .action(async (type: string, names: string[], opts: { selector?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const client = await ctx.client(g);
      const { namespace } = await ctx.namespace(g);
      let failed = false;
      let first = true;
      for (const tg of parseTargets([type, ...names])) {
        const ns = tg.type.namespaced ? namespace : undefined;
        let objs: KubeObject[] = [];
        if (tg.names.length === 0) {
          objs = (await client.request<KubeList>('GET', resourcePath(tg.type, ns), { query: { labelSelector: opts.selector } })).items;
          if (objs.length === 0) ctx.err(tg.type.namespaced ? `No resources found in ${namespace} namespace.` : 'No resources found');
        } else {
          for (const name of tg.names) {
            try {
              objs.push(await client.request<KubeObject>('GET', resourcePath(tg.type, ns, name)));
            } catch (err) {
              failed = true;
              ctx.err(errorLine(err));
            }
          }
        }
        for (const obj of objs) {
          const events = tg.type.kind === 'Event' ? undefined : await eventsFor(client, obj).catch(() => undefined);
          if (!first) ctx.out('');
          first = false;
          ctx.io.stdout.write(renderDescription(tg.type, obj, events));
        }
      }
      if (failed) throw new CliError('', { exitCode: 1 });
    });
}
