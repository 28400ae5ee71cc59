// Reading manifests for apply/delete -f: files, directories and stdin holding
// multi-document YAML or JSON (`kind: List` items included). Every document is
// checked before anything is sent, and each problem becomes one line naming the
// file, the document and the field.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { StatusCause } from '../agent/api/errors.ts';
import type { KubeObject } from '../agent/api/object-types.ts';
import { findByKind, type ResourceType } from '../agent/api/resources.ts';
import { CliError } from './cli-error.ts';

export interface ManifestSource {
  /** What error lines call it: the path as given, or `<stdin>`. */
  name: string;
  text: string;
}

/** One object found in a source, before checking. */
export interface RawManifest {
  source: string;
  /** 1-based position of the YAML document in its source. */
  doc: number;
  /** 1-based position inside a `kind: List`. */
  item?: number;
  value: unknown;
}

export interface Manifest extends RawManifest {
  type: ResourceType;
  object: KubeObject;
}

/** Defaults + validation of one object, as the server would do on create. */
export type ManifestValidator = (type: ResourceType, obj: KubeObject) => StatusCause[];

const isMap = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** `examples/pod.yaml: document 2 item 1 (Pod "web")`: where a manifest came from. */
export function describeLocation(m: RawManifest): string {
  let s = `${m.source}: document ${m.doc}`;
  if (m.item !== undefined) s += ` item ${m.item}`;
  if (isMap(m.value)) {
    const kind = typeof m.value.kind === 'string' ? m.value.kind : undefined;
    const meta = m.value.metadata;
    const name = isMap(meta) && typeof meta.name === 'string' ? meta.name : undefined;
    if (kind && name) s += ` (${kind} "${name}")`;
    else if (kind) s += ` (${kind})`;
  }
  return s;
}

function lineCol(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, col: offset - before.lastIndexOf('\n') };
}

/** A document that could not be read as an object, in its place among the others. */
export interface ManifestProblem {
  source: string;
  doc: number;
  error: string;
}

/** Pure: splits one source into raw objects, or error lines for syntax errors, in document order. */
export function parseManifestText(source: string, text: string): { manifests: RawManifest[]; errors: string[]; items: (RawManifest | ManifestProblem)[] } {
  const items: (RawManifest | ManifestProblem)[] = [];
  const trimmed = text.trimStart();
  let parsedAsJson = false;
  // JSON first when it looks like JSON: its errors read better than YAML's for JSON input.
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      pushDocument(items, source, 1, JSON.parse(text));
      parsedAsJson = true;
    } catch (err) {
      const msg = (err as Error).message;
      const pos = /position (\d+)/.exec(msg);
      if (pos) {
        const where = lineCol(text, Number(pos[1]));
        const reason = msg.replace(/\s*(in JSON )?at position \d+.*$/, '').replace(/^Unexpected/, 'unexpected');
        items.push({ source, doc: 1, error: `${source}: document 1: JSON syntax error at line ${where.line}, column ${where.col}: ${reason}` });
        parsedAsJson = true;
      }
      // Otherwise YAML (a superset of JSON) parses it again and says where it breaks.
    }
  }
  if (!parsedAsJson) {
    // YAML 1.1 as kubectl reads it: `0644` is octal, `<<` merges.
    const docs = parseAllDocuments(text, { version: '1.1', merge: true });
    const list = Array.isArray(docs) ? docs : [];
    list.forEach((d, i) => {
      const n = i + 1;
      if (d.errors.length > 0) {
        const e = d.errors[0]!;
        const where = e.linePos?.[0] ?? lineCol(text, e.pos[0]);
        const reason = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?\s*$/, '');
        items.push({ source, doc: n, error: `${source}: document ${n}: YAML syntax error at line ${where.line}, column ${where.col}: ${reason}` });
        return;
      }
      pushDocument(items, source, n, d.toJS({ maxAliasCount: 100 }));
    });
  }
  const isProblem = (x: RawManifest | ManifestProblem): x is ManifestProblem => 'error' in x;
  return {
    items,
    manifests: items.filter((x): x is RawManifest => !isProblem(x)),
    errors: items.filter(isProblem).map((x) => x.error),
  };
}

function pushDocument(out: (RawManifest | ManifestProblem)[], source: string, doc: number, value: unknown): void {
  if (value === null || value === undefined) return; // empty document (`---` at the end)
  if (!isMap(value)) {
    const got = Array.isArray(value) ? 'a list' : typeof value;
    out.push({ source, doc, error: `${source}: document ${doc}: expected a mapping with apiVersion and kind, got ${got}` });
    return;
  }
  if (typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items)) {
    value.items.forEach((item, j) => out.push({ source, doc, item: j + 1, value: item }));
    return;
  }
  out.push({ source, doc, value });
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  return typeof v === 'object' ? 'mapping' : typeof v;
}

/**
 * Pure: checks one raw manifest and returns it typed, with its namespace set,
 * or the error lines. `namespace` is the -n flag (explicit) or the context's.
 */
export function checkManifest(
  raw: RawManifest,
  opts: { namespace: string; namespaceFromFlag: boolean; validate?: ManifestValidator },
): { manifest?: Manifest; errors: string[] } {
  const at = describeLocation(raw);
  const fail = (field: string, msg: string) => ({ errors: [`${at}: ${field ? `${field}: ` : ''}${msg}`] });
  const v = raw.value;
  if (!isMap(v)) return fail('', `expected a mapping, got ${typeName(v)}`);
  if (typeof v.apiVersion !== 'string' || v.apiVersion === '') return fail('apiVersion', 'Required value');
  if (typeof v.kind !== 'string' || v.kind === '') return fail('kind', 'Required value');
  const type = findByKind(v.apiVersion, v.kind);
  if (!type) return fail('', `no kind "${v.kind}" is registered for version "${v.apiVersion}"`);
  if (v.metadata === undefined) return fail('metadata.name', 'Required value');
  if (!isMap(v.metadata)) return fail('metadata', `Invalid value: expected a mapping, got ${typeName(v.metadata)}`);
  const meta = v.metadata;
  if (meta.name === undefined || meta.name === '') return fail('metadata.name', 'Required value');
  if (typeof meta.name !== 'string') return fail('metadata.name', `Invalid value: expected a string, got ${typeName(meta.name)}`);
  if (type.namespaced) {
    if (meta.namespace !== undefined && typeof meta.namespace !== 'string') {
      return fail('metadata.namespace', `Invalid value: expected a string, got ${typeName(meta.namespace)}`);
    }
    const own = meta.namespace as string | undefined;
    if (own && opts.namespaceFromFlag && own !== opts.namespace) {
      return fail(
        'metadata.namespace',
        `the namespace from the provided object "${own}" does not match the namespace "${opts.namespace}"; pass --namespace=${own} or remove the flag`,
      );
    }
    if (!own) meta.namespace = opts.namespace;
  }
  const object = v as unknown as KubeObject;
  if (opts.validate) {
    let causes: StatusCause[];
    try {
      causes = opts.validate(type, structuredClone(object));
    } catch (err) {
      return fail('', (err as Error).message);
    }
    if (causes.length > 0) return { errors: causes.map((c) => `${at}: ${c.field ? `${c.field}: ` : ''}${c.message}`) };
  }
  return { manifest: { ...raw, type, object }, errors: [] };
}

/** Parses and checks every source; all errors are collected so the user sees them at once. */
export function loadManifests(
  sources: ManifestSource[],
  opts: { namespace: string; namespaceFromFlag: boolean; validate?: ManifestValidator },
): { manifests: Manifest[]; errors: string[] } {
  const manifests: Manifest[] = [];
  const errors: string[] = [];
  for (const s of sources) {
    for (const raw of parseManifestText(s.name, s.text).items) {
      if ('error' in raw) {
        errors.push(raw.error);
        continue;
      }
      const r = checkManifest(raw, opts);
      errors.push(...r.errors);
      if (r.manifest) manifests.push(r.manifest);
    }
  }
  const seen = new Map<string, Manifest>();
  for (const m of manifests) {
    const key = `${m.type.plural}.${m.type.group}/${m.object.metadata.namespace ?? ''}/${m.object.metadata.name}`;
    const first = seen.get(key);
    if (first) errors.push(`${describeLocation(m)}: metadata.name: Duplicate value: also defined in ${describeLocation(first)}`);
    else seen.set(key, m);
  }
  if (sources.length > 0 && manifests.length === 0 && errors.length === 0) errors.push('no objects passed to apply');
  return { manifests, errors };
}

const MANIFEST_FILE = /\.(ya?ml|json)$/i;

/** Reads `-f` arguments: a file, a directory (its *.yaml|*.yml|*.json, sorted) or `-` for stdin. */
export async function readSources(paths: string[], readStdin: () => Promise<string>): Promise<ManifestSource[]> {
  const out: ManifestSource[] = [];
  for (const p of paths) {
    if (p === '-') {
      out.push({ name: '<stdin>', text: await readStdin() });
      continue;
    }
    let isDir: boolean;
    try {
      isDir = (await stat(p)).isDirectory();
    } catch {
      throw new CliError(`the path "${p}" does not exist`);
    }
    if (isDir) {
      const names = (await readdir(p)).filter((n) => MANIFEST_FILE.test(n)).sort();
      for (const n of names) out.push({ name: join(p, n), text: await readFile(join(p, n), 'utf8') });
    } else {
      out.push({ name: p, text: await readFile(p, 'utf8') });
    }
  }
  return out;
}
