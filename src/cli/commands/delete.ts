// `mesh delete TYPE NAME... | -f FILE`: delete, then (by default) wait until gone.
import type { Command } from 'commander';
import type { KubeObject } from '../../agent/api/object-types.ts';
import type { ResourceType } from '../../agent/api/resources.ts';
import { CliError, errorLine, isNotFound } from '../cli-error.ts';
import { sleep, type CliContext, type GlobalOptions } from '../cli-context.ts';
import type { ApiClient } from '../client.ts';
import { loadManifests, readSources } from '../manifests.ts';
import { parseTargets, resourcePath, typePrefix } from '../resource-paths.ts';
import { readAllStdin } from '../stdin.ts';

interface DeleteOpts {
  filename?: string[];
  gracePeriod?: string;
  now?: boolean;
  wait?: string | boolean;
  timeout?: string;
  ignoreNotFound?: boolean;
}

interface Victim {
  type: ResourceType;
  namespace?: string;
  name: string;
}

export function parseBool(flag: string, v: string | boolean | undefined, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw new CliError(`invalid value for ${flag}: "${String(v)}" (use true or false)`);
}

/** `5s`, `2m` or plain seconds; 0 = no limit. */
export function parseTimeout(v: string | undefined): number {
  if (!v) return 0;
  const m = /^(\d+)(ms|s|m|h)?$/.exec(v.trim());
  if (!m) throw new CliError(`invalid --timeout "${v}": use e.g. 30s, 2m`);
  const n = Number(m[1]);
  return n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const)[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
}

/** Polls until the object is gone (404, or replaced by a new uid). */
async function waitGone(ctx: CliContext, client: ApiClient, v: Victim, uid: string | undefined, timeoutMs: number): Promise<void> {
  const start = Date.now();
  let nextReport = start + 5000;
  const label = `${typePrefix(v.type)} "${v.name}"`;
  for (;;) {
    try {
      const obj = await client.request<KubeObject>('GET', resourcePath(v.type, v.namespace, v.name));
      if (uid && obj.metadata.uid !== uid) return;
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    const now = Date.now();
    if (timeoutMs > 0 && now - start >= timeoutMs) throw new CliError(`timed out waiting for ${label} to be deleted`);
    if (now >= nextReport) {
      ctx.err(`waiting for ${label} to terminate (${Math.round((now - start) / 1000)}s)`);
      nextReport += 5000;
    }
    if (!(await sleep(500, ctx.io.signal))) throw new CliError('interrupted while waiting for deletion', { exitCode: 130 });
  }
}

export function registerDelete(program: Command, ctx: CliContext): void {
  program
    .command('delete')
    .description('Delete objects by type and name, or those in manifest files')
    .argument('[type]', 'resource type or TYPE/NAME')
    .argument('[names...]', 'object names')
    .option('-f, --filename <path>', 'file, directory or - (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--grace-period <seconds>', 'seconds the pod gets to stop; 0 = at once')
    .option('--now', 'same as --grace-period=1')
    .option('--wait [bool]', 'wait until the objects are gone (default true)')
    .option('--timeout <duration>', 'give up waiting after this long (e.g. 60s); 0 = never')
    .option('--ignore-not-found', 'treat a missing object as deleted')
    .action(async (type: string | undefined, names: string[], opts: DeleteOpts, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const wait = parseBool('--wait', opts.wait, true);
      const timeoutMs = parseTimeout(opts.timeout);
      let grace: number | undefined;
      if (opts.gracePeriod !== undefined) {
        grace = Number(opts.gracePeriod);
        if (!Number.isInteger(grace) || grace < -1) throw new CliError(`invalid --grace-period "${opts.gracePeriod}": use a whole number of seconds`);
        if (grace < 0) grace = undefined;
      }
      if (opts.now) grace = 1;
      const { namespace, fromFlag } = await ctx.namespace(g);
      const victims: Victim[] = [];
      if (opts.filename?.length) {
        if (type) throw new CliError('give either -f or TYPE NAME, not both');
        const sources = await readSources(opts.filename, ctx.io.readStdin ?? readAllStdin);
        const { manifests, errors } = loadManifests(sources, { namespace, namespaceFromFlag: fromFlag });
        if (errors.length > 0) {
          for (const e of errors) ctx.err(`error: ${e}`);
          throw new CliError('nothing was deleted');
        }
        for (const m of manifests) victims.push({ type: m.type, namespace: m.object.metadata.namespace, name: m.object.metadata.name! });
      } else {
        if (!type) throw new CliError('you must give a resource type and names, or -f FILE (e.g. "mesh delete pod web")');
        const targets = parseTargets([type, ...names]);
        for (const tg of targets) {
          if (tg.names.length === 0) throw new CliError(`resource name may not be empty: give the ${tg.type.singular} names to delete`);
          for (const name of tg.names) victims.push({ type: tg.type, namespace: tg.type.namespaced ? namespace : undefined, name });
        }
      }
      const client = await ctx.client(g);
      let failed = false;
      const pending: { v: Victim; uid?: string }[] = [];
      for (const v of victims) {
        const body: Record<string, unknown> = { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' };
        if (grace !== undefined) body.gracePeriodSeconds = grace;
        try {
          const res = await client.request<KubeObject | undefined>('DELETE', resourcePath(v.type, v.namespace, v.name), { body });
          ctx.out(`${typePrefix(v.type)} "${v.name}" deleted`);
          pending.push({ v, uid: res && res.kind !== 'Status' ? res.metadata?.uid : undefined });
        } catch (err) {
          if (opts.ignoreNotFound && isNotFound(err)) continue;
          failed = true;
          ctx.err(errorLine(err));
        }
      }
      if (wait) for (const p of pending) await waitGone(ctx, client, p.v, p.uid, timeoutMs);
      if (failed) throw new CliError('', { exitCode: 1 });
    });
}
