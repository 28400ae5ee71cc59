// Drives runCli against a small in-memory fake of the API (plain HTTP on
// loopback), checking what the commands send and print.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../../src/cli/run.ts';
import type { ManifestValidator } from '../../../src/cli/manifests.ts';
import { LAST_APPLIED } from '../../../src/cli/apply-patch.ts';

type Obj = { apiVersion: string; kind: string; metadata: Record<string, unknown> & { name: string; namespace?: string }; [k: string]: unknown };

const store = new Map<string, Obj>();
const requests: { method: string; url: string; contentType?: string; accept?: string; body?: unknown }[] = [];
let server: Server;
let dir: string;
let env: Record<string, string>;
let rv = 1;

function status(code: number, reason: string, message: string) {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message, metadata: {} };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let s = '';
    req.on('data', (c) => (s += c));
    req.on('end', () => resolve(s));
  });
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as object) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

before(async () => {
  server = createServer(async (req, res) => {
    const url = new URL(req.url!, 'http://x');
    const raw = await readBody(req);
    const body = raw ? JSON.parse(raw) : undefined;
    requests.push({ method: req.method!, url: req.url!, contentType: req.headers['content-type'], accept: req.headers.accept, body });
    const send = (code: number, v: unknown, type = 'application/json') => {
      res.writeHead(code, { 'Content-Type': type });
      res.end(typeof v === 'string' ? v : JSON.stringify(v));
    };
    if (url.pathname === '/version') return send(200, { gitVersion: 'v1.32.0-mesh' });
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/(pods|configmaps)(?:\/([^/]+))?(?:\/(log))?$/.exec(url.pathname);
    if (!m) return send(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    const [, ns, plural, name, sub] = m;
    const key = `${plural}/${ns}/${name}`;
    if (sub === 'log') return send(200, `line1 ${url.searchParams.get('tailLines') ?? ''}\nline2\n`, 'text/plain');
    if (req.method === 'GET' && !name) {
      const items = [...store.entries()].filter(([k]) => k.startsWith(`${plural}/${ns}/`)).map(([, v]) => v);
      if (req.headers.accept?.includes('as=Table')) {
        return send(200, {
          kind: 'Table',
          apiVersion: 'meta.k8s.io/v1',
          metadata: { resourceVersion: String(rv) },
          columnDefinitions: [
            { name: 'Name', type: 'string', priority: 0 },
            { name: 'Status', type: 'string', priority: 0 },
            { name: 'Node', type: 'string', priority: 1 },
          ],
          rows: items.map((o) => ({ cells: [o.metadata.name, 'Running', 'node1'], object: { metadata: o.metadata } })),
        });
      }
      return send(200, { kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: String(rv) }, items });
    }
    const existing = store.get(key);
    const notFound = () => send(404, status(404, 'NotFound', `${plural} "${name}" not found`));
    if (req.method === 'GET') return existing ? send(200, existing) : notFound();
    if (req.method === 'POST') {
      if (body.metadata.name === 'rejected') return send(422, status(422, 'Invalid', `ConfigMap "rejected" is invalid: data: Invalid value`));
      const obj = { ...body, metadata: { ...body.metadata, uid: `uid-${rv}`, resourceVersion: String(++rv) } };
      store.set(`${plural}/${ns}/${body.metadata.name}`, obj);
      return send(201, obj);
    }
    if (req.method === 'PATCH') {
      if (!existing) return notFound();
      const next = mergePatch(existing, body) as Obj;
      store.set(key, next);
      return send(200, next);
    }
    if (req.method === 'DELETE') {
      if (!existing) return notFound();
      store.delete(key);
      return send(200, existing);
    }
    send(405, status(405, 'MethodNotAllowed', 'no'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  dir = await mkdtemp(join(tmpdir(), 'mesh-cli-'));
  const kc = `apiVersion: v1
kind: Config
current-context: t
clusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}"}}]
users: [{name: u, user: {token: secret-token}}]
contexts: [{name: t, context: {cluster: c, user: u}}]
`;
  await writeFile(join(dir, 'kubeconfig'), kc);
  env = { KUBECONFIG: join(dir, 'kubeconfig') };
});

after(async () => {
  server.close();
  await rm(dir, { recursive: true, force: true });
});

const noValidation: () => Promise<ManifestValidator> = async () => () => [];

async function run(args: string[], stdin = '') {
  let out = '';
  let err = '';
  const code = await runCli(
    args,
    { stdout: { write: (s) => (out += String(s)) }, stderr: { write: (s) => (err += String(s)) }, env, readStdin: async () => stdin },
    { validatorLoader: noValidation },
  );
  return { code, out, err };
}

test('apply creates, then reports unchanged, then configured with deletions', async () => {
  const v1 = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, labels: {a: "1", b: "2"}}\ndata: {k: v}\n';
  let r = await run(['apply', '-f', '-'], v1);
  assert.deepEqual([r.code, r.out, r.err], [0, 'configmap/cfg created\n', '']);
  const created = store.get('configmaps/default/cfg')!;
  assert.match((created.metadata.annotations as Record<string, string>)[LAST_APPLIED]!, /"name":"cfg"/);
  assert.equal(requests.at(-1)!.contentType, 'application/json');

  r = await run(['apply', '-f', '-'], v1);
  assert.deepEqual([r.code, r.out], [0, 'configmap/cfg unchanged\n']);

  const v2 = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, labels: {a: "1"}}\ndata: {k: v2}\n';
  r = await run(['apply', '-f', '-'], v2);
  assert.deepEqual([r.code, r.out], [0, 'configmap/cfg configured\n']);
  const patchReq = requests.at(-1)!;
  assert.equal(patchReq.method, 'PATCH');
  assert.equal(patchReq.contentType, 'application/merge-patch+json');
  const after = store.get('configmaps/default/cfg')!;
  assert.deepEqual(after.metadata.labels, { a: '1' });
  assert.deepEqual(after.data, { k: 'v2' });
});

test('apply: a bad document stops everything before any request', async () => {
  const before = requests.length;
  const text = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {labels: {}}\n';
  const r = await run(['apply', '-f', '-'], text);
  assert.equal(r.code, 1);
  assert.equal(r.out, '');
  assert.match(r.err, /^error: <stdin>: document 2 \(ConfigMap\): metadata\.name: Required value\n/);
  assert.equal(requests.length, before, 'nothing was sent');
});

test('apply: server errors print the server message, no stack', async () => {
  const r = await run(['apply', '-f', '-'], 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: rejected}\n');
  assert.equal(r.code, 1);
  assert.match(r.err, /^error: ConfigMap "rejected" is invalid: data: Invalid value\n/);
  assert.ok(!r.err.includes('    at '));
});

test('get prints the server table; -o wide shows priority columns; token is sent', async () => {
  await run(['apply', '-f', '-'], 'apiVersion: v1\nkind: Pod\nmetadata: {name: hello}\nspec: {containers: [{name: c, image: busybox}]}\n');
  let r = await run(['get', 'po']);
  assert.deepEqual([r.code, r.out], [0, 'NAME    STATUS\nhello   Running\n']);
  assert.match(requests.at(-1)!.accept!, /as=Table/);
  r = await run(['get', 'pods', '-o', 'wide']);
  assert.equal(r.out, 'NAME    STATUS    NODE\nhello   Running   node1\n');
  r = await run(['get', 'pod/hello', '-o', 'name']);
  assert.equal(r.out, 'pod/hello\n');
  r = await run(['get', 'pods', 'hello', '-o', 'json']);
  assert.equal(JSON.parse(r.out).metadata.name, 'hello');
});

test('get: empty namespace and unknown types', async () => {
  let r = await run(['get', 'pods', '-n', 'empty']);
  assert.deepEqual([r.code, r.out, r.err], [0, '', 'No resources found in empty namespace.\n']);
  assert.match(requests.at(-1)!.url, /^\/api\/v1\/namespaces\/empty\/pods/);
  r = await run(['get', 'widgets']);
  assert.deepEqual([r.code, r.err], [1, 'error: the server doesn\'t have a resource type "widgets"\n']);
  r = await run(['get', 'pods', 'nope']);
  assert.deepEqual([r.code, r.err], [1, 'error: pods "nope" not found\n']);
});

test('describe pod renders and lists events', async () => {
  const r = await run(['describe', 'pod', 'hello']);
  assert.equal(r.code, 0);
  assert.match(r.out, /^Name:\s+hello\nNamespace:\s+default\n/);
  assert.match(r.out, /Image:\s+busybox/);
});

test('logs streams the log text with query options', async () => {
  const r = await run(['logs', 'hello', '--tail', '5', '-c', 'c']);
  assert.deepEqual([r.code, r.out], [0, 'line1 5\nline2\n']);
  const q = new URL(requests.at(-1)!.url, 'http://x').searchParams;
  assert.equal(q.get('container'), 'c');
  assert.equal(q.get('tailLines'), '5');
});

test('delete prints deleted and waits until gone; missing objects fail', async () => {
  let r = await run(['delete', 'pod', 'hello', '--grace-period', '0']);
  assert.deepEqual([r.code, r.out, r.err], [0, 'pod "hello" deleted\n', '']);
  const del = requests.find((q) => q.method === 'DELETE')!;
  assert.equal((del.body as { gracePeriodSeconds: number }).gracePeriodSeconds, 0);
  r = await run(['delete', 'pod', 'hello']);
  assert.deepEqual([r.code, r.err], [1, 'error: pods "hello" not found\n']);
  r = await run(['delete', 'pod', 'hello', '--ignore-not-found']);
  assert.equal(r.code, 0);
});

test('version shows client and server versions', async () => {
  const r = await run(['version']);
  assert.match(r.out, /^Client Version: v1\.32\.0-mesh\.\d+\.\d+\.\d+\nServer Version: v1\.32\.0-mesh\n$/);
});
