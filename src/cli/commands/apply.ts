// `mesh apply -f`: client-side apply (create, or patch from last-applied).
import type { Command } from 'commander';
import type { KubeObject } from '../../agent/api/object-types.ts';
import { loadAdmissionValidator } from '../admission-validator.ts';
import { applyPatchFor, withLastApplied } from '../apply-patch.ts';
import { CliError, errorLine, isNotFound } from '../cli-error.ts';
import type { CliContext, GlobalOptions } from '../cli-context.ts';
import { loadManifests, readSources, type Manifest, type ManifestValidator } from '../manifests.ts';
import { resourcePath, typePrefix } from '../resource-paths.ts';
import { readAllStdin } from '../stdin.ts';

interface ApplyOptions {
  filename: string[];
  dryRun?: string | boolean;
}

export function dryRunMode(v: string | boolean | undefined): 'none' | 'client' | 'server' {
  if (v === undefined || v === false || v === 'none') return 'none';
  if (v === true || v === 'client') return 'client';
  if (v === 'server') return 'server';
  throw new CliError(`invalid --dry-run value "${String(v)}": use client, server or none`);
}

/** Namespaces first, so the objects in them can be created in the same apply. */
function applyOrder(ms: Manifest[]): Manifest[] {
  return [...ms.filter((m) => m.type.kind === 'Namespace'), ...ms.filter((m) => m.type.kind !== 'Namespace')];
}

export function registerApply(program: Command, ctx: CliContext, validatorLoader: () => Promise<ManifestValidator> = loadAdmissionValidator): void {
  program
    .command('apply')
    .description('Create or update objects from manifest files (client-side apply)')
    .requiredOption('-f, --filename <path>', 'file, directory or - for stdin (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--dry-run [mode]', 'client (default when given) or server: show what would happen, change nothing')
    .action(async (opts: ApplyOptions, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const mode = dryRunMode(opts.dryRun);
      const sources = await readSources(opts.filename, ctx.io.readStdin ?? readAllStdin);
      const ns = await ctx.namespace(g);
      const validate = await validatorLoader();
      const { manifests, errors } = loadManifests(sources, { namespace: ns.namespace, namespaceFromFlag: ns.fromFlag, validate });
      if (errors.length > 0) {
        for (const e of errors) ctx.err(`error: ${e}`);
        throw new CliError(`${errors.length} problem${errors.length === 1 ? '' : 's'} found; nothing was applied`, { exitCode: 1 });
      }
      const client = await ctx.client(g);
      const suffix = mode === 'client' ? ' (dry run)' : mode === 'server' ? ' (server dry run)' : '';
      const query = mode === 'server' ? { dryRun: 'All' } : {};
      let failed = 0;
      for (const m of applyOrder(manifests)) {
        const obj = m.object;
        const name = obj.metadata.name!;
        const ns = m.type.namespaced ? obj.metadata.namespace : undefined;
        const label = `${typePrefix(m.type)}/${name}`;
        try {
          let live: KubeObject | undefined;
          try {
            live = await client.request<KubeObject>('GET', resourcePath(m.type, ns, name));
          } catch (err) {
            if (!isNotFound(err)) throw err;
          }
          if (!live) {
            if (mode !== 'client') await client.request('POST', resourcePath(m.type, ns), { body: withLastApplied(obj), query });
            ctx.out(`${label} created${suffix}`);
            continue;
          }
          const patch = applyPatchFor(obj, live);
          if (!patch) {
            ctx.out(`${label} unchanged${suffix}`);
            continue;
          }
          if (mode !== 'client') {
            await client.request('PATCH', resourcePath(m.type, ns, name), { body: patch, contentType: 'application/merge-patch+json', query });
          }
          ctx.out(`${label} configured${suffix}`);
        } catch (err) {
          failed++;
          ctx.err(errorLine(err));
        }
      }
      if (failed > 0) throw new CliError(`${failed} of ${manifests.length} object${manifests.length === 1 ? '' : 's'} failed to apply`, { exitCode: 1 });
    });
}
