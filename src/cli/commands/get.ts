// `mesh get`: tables from the server's Table responses, -o yaml|json|name, -w.
import type { Command } from 'commander';
import type { KubeList, KubeObject } from '../../agent/api/object-types.ts';
import { RESOURCE_TYPES, type ResourceType } from '../../agent/api/resources.ts';
import { timestampAge } from '../../agent/api/format-duration.ts';
import { CliError, errorLine } from '../cli-error.ts';
import type { CliContext, GlobalOptions } from '../cli-context.ts';
import { TABLE_ACCEPT, readLines, type ApiClient, type Query } from '../client.ts';
import { formatObjects, parseOutputFormat, withTypeMeta, type OutputFormat } from '../object-output.ts';
import { parseTargets, resourcePath, typePrefix } from '../resource-paths.ts';
import { columnWidths, formatPrepared, isTable, padRow, prepareTable, type Table, type TableColumn, type TableRow } from '../table-printer.ts';

interface GetOptions {
  allNamespaces?: boolean;
  selector?: string;
  fieldSelector?: string;
  output?: string;
  watch?: boolean;
  /** false with --no-headers */
  headers?: boolean;
}

/** What `get all` lists, as kubectl does: the workload-facing types. */
const ALL_KINDS = ['Pod', 'Service', 'DaemonSet', 'Deployment', 'ReplicaSet', 'StatefulSet', 'HorizontalPodAutoscaler', 'CronJob', 'Job'];

/** A table for servers (or types) that answer with plain objects: NAME and AGE. */
export function fallbackTable(objs: KubeObject[], now = new Date()): Table {
  return {
    kind: 'Table',
    columnDefinitions: [
      { name: 'Name', type: 'string' },
      { name: 'Age', type: 'string' },
    ],
    rows: objs.map((o) => ({ cells: [o.metadata.name ?? '', timestampAge(o.metadata.creationTimestamp, now)], object: { metadata: o.metadata } })),
  };
}

function asTable(v: unknown): Table {
  if (isTable(v)) return v;
  const o = v as Partial<KubeList> & KubeObject;
  return fallbackTable(Array.isArray(o.items) ? o.items : [o]);
}

function noneFound(t: ResourceType, ns: string | undefined): string {
  return t.namespaced && ns ? `No resources found in ${ns} namespace.` : 'No resources found';
}

interface Target {
  type: ResourceType;
  names: string[];
}

export function registerGet(program: Command, ctx: CliContext): void {
  program
    .command('get')
    .description('List objects, or show named ones (mesh get pods; mesh get deploy/web -o yaml)')
    .argument('<type>', 'resource type (pods, po, deploy, ...), TYPE/NAME, or all')
    .argument('[names...]', 'object names')
    .option('-A, --all-namespaces', 'list across all namespaces')
    .option('-l, --selector <selector>', 'label selector (app=web,tier!=db)')
    .option('--field-selector <selector>', 'field selector (status.phase=Running)')
    .option('-o, --output <format>', 'wide, yaml, json or name')
    .option('-w, --watch', 'after listing, stream changes')
    .option('--no-headers', 'omit the table header')
    .action(async (type: string, names: string[], opts: GetOptions, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const format = parseOutputFormatCli(opts.output);
      const targets: Target[] =
        type === 'all' && names.length === 0
          ? RESOURCE_TYPES.filter((t) => ALL_KINDS.includes(t.kind)).map((t) => ({ type: t, names: [] }))
          : parseTargets([type, ...names]);
      if (opts.watch && targets.length > 1) throw new CliError('you may only specify a single resource type with --watch');
      const client = await ctx.client(g);
      const ns = opts.allNamespaces ? undefined : (await ctx.namespace(g)).namespace;
      const query: Query = { labelSelector: opts.selector, fieldSelector: opts.fieldSelector };
      let failed = false;

      if (format === 'table' || format === 'wide') {
        const multi = targets.length > 1 || type === 'all';
        let printedAny = false;
        let watchState: WatchState | undefined;
        for (const tg of targets) {
          const { table, errors } = await fetchTable(client, tg, ns, query);
          for (const e of errors) ctx.err(errorLine(e));
          failed ||= errors.length > 0;
          const withNamespace = !!opts.allNamespaces && tg.type.namespaced;
          const prepared = prepareTable(table, undefined, { wide: format === 'wide', withNamespace, namePrefix: multi ? `${typePrefix(tg.type)}/` : undefined });
          watchState = {
            columns: table.columnDefinitions,
            widths: columnWidths(prepared),
            headerPrinted: false,
            withNamespace,
            wide: format === 'wide',
            resourceVersion: table.metadata?.resourceVersion,
          };
          if (prepared.rows.length === 0) continue;
          if (printedAny) ctx.out('');
          for (const l of formatPrepared(prepared, watchState.widths, opts.headers === false)) ctx.out(l);
          watchState.headerPrinted = true;
          printedAny = true;
        }
        if (!printedAny && !failed && !opts.watch) ctx.err(noneFound(targets[0]!.type, ns));
        if (opts.watch && watchState) {
          watchState.headerPrinted ||= opts.headers === false;
          await watchTable(ctx, client, targets[0]!, ns, query, watchState);
        }
      } else {
        let rv: string | undefined;
        for (const tg of targets) {
          const { objects, errors, resourceVersion } = await fetchObjects(client, tg, ns, query);
          rv = resourceVersion;
          for (const e of errors) ctx.err(errorLine(e));
          failed ||= errors.length > 0;
          if (objects.length === 0 && tg.names.length === 0 && !opts.watch) {
            if (targets.length === 1) ctx.err(noneFound(tg.type, ns));
            continue;
          }
          if (objects.length > 0) ctx.io.stdout.write(formatObjects(objects, format, tg.type, tg.names.length !== 1 || objects.length !== 1));
        }
        if (opts.watch) await watchObjects(ctx, client, targets[0]!, ns, query, format, rv);
      }
      if (failed) throw new CliError('', { exitCode: 1 });
    });
}

function parseOutputFormatCli(o: string | undefined): OutputFormat {
  try {
    return parseOutputFormat(o);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

async function fetchTable(client: ApiClient, tg: Target, ns: string | undefined, query: Query): Promise<{ table: Table; errors: unknown[] }> {
  if (tg.names.length === 0) {
    const v = await client.request('GET', resourcePath(tg.type, ns), { query, accept: TABLE_ACCEPT });
    const table = asTable(v);
    table.metadata ??= { resourceVersion: (v as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion };
    return { table, errors: [] };
  }
  const errors: unknown[] = [];
  let columns: TableColumn[] | undefined;
  const rows: TableRow[] = [];
  for (const name of tg.names) {
    try {
      const t = asTable(await client.request('GET', resourcePath(tg.type, ns, name), { accept: TABLE_ACCEPT }));
      columns ??= t.columnDefinitions;
      rows.push(...(t.rows ?? []));
    } catch (err) {
      errors.push(err);
    }
  }
  return { table: { kind: 'Table', columnDefinitions: columns ?? [], rows }, errors };
}

async function fetchObjects(
  client: ApiClient,
  tg: Target,
  ns: string | undefined,
  query: Query,
): Promise<{ objects: KubeObject[]; errors: unknown[]; resourceVersion?: string }> {
  if (tg.names.length === 0) {
    const list = await client.request<KubeList>('GET', resourcePath(tg.type, ns), { query });
    return { objects: list.items.map((o) => withTypeMeta(o, tg.type)), errors: [], resourceVersion: list.metadata?.resourceVersion };
  }
  const objects: KubeObject[] = [];
  const errors: unknown[] = [];
  for (const name of tg.names) {
    try {
      objects.push(withTypeMeta(await client.request<KubeObject>('GET', resourcePath(tg.type, ns, name)), tg.type));
    } catch (err) {
      errors.push(err);
    }
  }
  return { objects, errors };
}

interface WatchState {
  columns?: TableColumn[];
  widths: number[];
  headerPrinted: boolean;
  withNamespace: boolean;
  wide: boolean;
  /** Of the list just printed: the watch starts after it so no change is missed. */
  resourceVersion?: string;
}

function watchQuery(tg: Target, query: Query, resourceVersion: string | undefined): Query {
  const q: Query = { ...query, watch: 'true', resourceVersion };
  // One named object: narrow the watch to it, as kubectl does.
  if (tg.names.length === 1) q.fieldSelector = [`metadata.name=${tg.names[0]}`, query.fieldSelector].filter(Boolean).join(',');
  return q;
}

async function* watchEvents(ctx: CliContext, client: ApiClient, tg: Target, ns: string | undefined, query: Query, accept: string, rv: string | undefined) {
  let res;
  try {
    res = await client.stream(resourcePath(tg.type, ns), { query: watchQuery(tg, query, rv), accept, signal: ctx.io.signal });
  } catch (err) {
    if (ctx.io.signal?.aborted) return;
    throw err;
  }
  try {
    for await (const line of readLines(res)) {
      let ev: { type?: string; object?: unknown };
      try {
        ev = JSON.parse(line) as typeof ev;
      } catch {
        throw new CliError('the server sent a malformed watch event');
      }
      if (ev.type === 'ERROR') {
        const s = ev.object as { message?: string } | undefined;
        throw new CliError(s?.message ?? 'watch failed');
      }
      if (ev.type === 'BOOKMARK') continue;
      yield ev;
    }
  } catch (err) {
    if (ctx.io.signal?.aborted) return;
    throw err;
  } finally {
    res.destroy();
  }
}

async function watchTable(ctx: CliContext, client: ApiClient, tg: Target, ns: string | undefined, query: Query, st: WatchState): Promise<void> {
  for await (const ev of watchEvents(ctx, client, tg, ns, query, TABLE_ACCEPT, st.resourceVersion)) {
    const table = asTable(ev.object);
    st.columns ??= table.columnDefinitions?.length ? table.columnDefinitions : undefined;
    const p = prepareTable(table, table.columnDefinitions?.length ? table.columnDefinitions : st.columns, { wide: st.wide, withNamespace: st.withNamespace });
    // Later rows keep the first page's column widths (growing when a cell is wider).
    const widths = columnWidths(p).map((w, i) => Math.max(w, st.widths[i] ?? 0));
    st.widths = widths;
    if (!st.headerPrinted) {
      ctx.out(padRow(p.headers, widths));
      st.headerPrinted = true;
    }
    for (const r of p.rows) ctx.out(padRow(r, widths));
  }
}

async function watchObjects(
  ctx: CliContext,
  client: ApiClient,
  tg: Target,
  ns: string | undefined,
  query: Query,
  format: 'yaml' | 'json' | 'name',
  rv: string | undefined,
): Promise<void> {
  for await (const ev of watchEvents(ctx, client, tg, ns, query, 'application/json', rv)) {
    const obj = withTypeMeta(ev.object as KubeObject, tg.type);
    if (format === 'yaml') ctx.out('---');
    ctx.io.stdout.write(formatObjects([obj], format, tg.type, false));
  }
}
