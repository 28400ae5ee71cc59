// One seeded run: N replicas write concurrently (creates, field updates with
// same-field conflicts, deletes, re-creates of a name, single-writer status and
// Node writes) over a lossy, duplicating, reordering network with partitions
// that heal. Afterwards every replica must hold the same state, no deleted
// incarnation may be live, and every acknowledged write must be present or
// superseded by a named conflicting write, delete or create.

import type { KubeObject } from '../../src/agent/api/object-types.ts';
import { compareHlc, decodeHlc, HLC_ZERO } from '../../src/agent/store/hlc.ts';
import { singleWriterRule } from '../../src/agent/store/single-writer-rule.ts';
import { pick, seededRandom } from '../support/seeded-random.ts';
import { converge, createCluster, snapshot, type Replica } from './replica-cluster.ts';

const RESOURCES = ['configmaps', 'pods', 'nodes'];
const NS = 'default';

interface Write {
  replica: string;
  kind: 'create' | 'update' | 'delete';
  resource: string;
  name: string;
  uid: string;
  /** Dotted path of the field written (update and create). */
  field?: string;
  value?: string;
  /** The value of the field this write replaced on its replica. */
  overwrote?: string;
}

export interface ScenarioResult {
  replicas: number;
  writes: number;
  rounds: number;
  /** Incarnations that lost their name to a concurrent create. */
  superseded: number;
  /** Acknowledged field writes that lost to a concurrent write of the same field. */
  overwritten: number;
  stats: { sent: number; delivered: number; lost: number; duplicated: number };
}

export async function runScenario(seed: number): Promise<ScenarioResult> {
  const rnd = seededRandom(seed);
  const n = 3 + Math.floor(rnd() * 3);
  const ids = Array.from({ length: n }, (_, i) => `node-${i}`);
  const cluster = await createCluster({
    ids,
    random: seededRandom(seed ^ 0x5eed),
    faults: { loss: 0.15, duplicate: 0.15, minDelayMs: 0, maxDelayMs: 40 },
    authorize: singleWriterRule((author) => author),
    skew: () => Math.floor((rnd() - 0.5) * 2_000),
    seedTag: `seed-${seed}`,
  });
  const { net, replicas } = cluster;
  const writes: Write[] = [];
  let counter = 0;
  const token = (r: Replica) => `${r.id}#${++counter}`;
  const uidFor = () => `uid-${seed}-${++counter}`;

  try {
    for (const r of replicas) {
      const node: KubeObject = { apiVersion: 'v1', kind: 'Node', metadata: { name: r.id, uid: uidFor() }, status: { heartbeat: token(r) } };
      await r.store.create('nodes', node);
      writes.push({ replica: r.id, kind: 'create', resource: 'nodes', name: r.id, uid: node.metadata.uid!, field: 'status.heartbeat', value: (node.status as { heartbeat: string }).heartbeat });
    }

    const steps = 40 + Math.floor(rnd() * 40);
    for (let step = 0; step < steps; step++) {
      const r = pick(rnd, replicas);
      const x = rnd();
      if (x < 0.15) await createConfigMap(r);
      else if (x < 0.23) await createPod(r);
      else if (x < 0.5) await updateField(r, 'configmaps', `data.f${Math.floor(rnd() * 3)}`);
      else if (x < 0.6) await updateStatus(r);
      else if (x < 0.65) await updateField(r, 'pods', 'metadata.labels.l');
      else if (x < 0.7) await updateField(r, 'nodes', 'status.heartbeat', r.id);
      else if (x < 0.78) await deleteOne(r);
      else if (x < 0.82) {
        if (rnd() < 0.5) net.heal();
        else {
          const cut = 1 + Math.floor(rnd() * (n - 1));
          const shuffled = [...ids].sort(() => rnd() - 0.5);
          net.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
        }
      } else if (x < 0.87) {
        const peers = r.replicator && replicasOtherThan(r);
        await net.run(r.replicator.syncWith(pick(rnd, peers).id).catch(() => undefined));
      }
      await net.advance(rnd() * 25);
    }

    net.heal();
    net.setFaults({ loss: 0, duplicate: 0 });
    const rounds = await converge(cluster, RESOURCES);
    const { superseded, overwritten } = check(rounds);
    return { replicas: n, writes: writes.length, rounds, superseded, overwritten, stats: { ...net.stats } };
  } finally {
    await cluster.stop();
  }

  function replicasOtherThan(r: Replica): Replica[] {
    return replicas.filter((o) => o !== r);
  }

  function liveOn(r: Replica, resource: string): KubeObject[] {
    return r.store.list(resource).items;
  }

  async function createConfigMap(r: Replica): Promise<void> {
    const name = pick(rnd, ['a', 'b', 'c', 'd']);
    if (r.store.get('configmaps', NS, name)) return;
    const value = token(r);
    const obj: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NS, uid: uidFor() }, data: { f0: value } };
    await r.store.create('configmaps', obj);
    writes.push({ replica: r.id, kind: 'create', resource: 'configmaps', name, uid: obj.metadata.uid!, field: 'data.f0', value });
  }

  async function createPod(r: Replica): Promise<void> {
    const name = pick(rnd, ['p', 'q']);
    if (r.store.get('pods', NS, name)) return;
    const value = token(r);
    const obj: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: NS, uid: uidFor(), labels: { l: token(r) } },
      spec: { nodeName: pick(rnd, ids), containers: [{ name: 'c', image: 'busybox' }] },
      status: { phase: value },
    };
    await r.store.create('pods', obj);
    writes.push({ replica: r.id, kind: 'create', resource: 'pods', name, uid: obj.metadata.uid!, field: 'status.phase', value });
    writes.push({ replica: r.id, kind: 'create', resource: 'pods', name, uid: obj.metadata.uid!, field: 'metadata.labels.l', value: obj.metadata.labels!.l });
  }

  async function updateField(r: Replica, resource: string, field: string, only?: string): Promise<void> {
    const items = liveOn(r, resource).filter((o) => only === undefined || o.metadata.name === only);
    if (items.length === 0) return;
    const obj = pick(rnd, items);
    const value = token(r);
    const overwrote = getPath(obj, field);
    setPath(obj, field, value);
    await r.store.update(resource, obj);
    writes.push({ replica: r.id, kind: 'update', resource, name: obj.metadata.name!, uid: obj.metadata.uid!, field, value, overwrote });
  }

  async function updateStatus(r: Replica): Promise<void> {
    // Single writer: only the agent of the pod's node writes its status.
    const mine = liveOn(r, 'pods').filter((p) => (p.spec as { nodeName?: string }).nodeName === r.id);
    if (mine.length === 0) return;
    const obj = pick(rnd, mine);
    const value = token(r);
    const overwrote = getPath(obj, 'status.phase');
    setPath(obj, 'status.phase', value);
    await r.store.update('pods', obj);
    writes.push({ replica: r.id, kind: 'update', resource: 'pods', name: obj.metadata.name!, uid: obj.metadata.uid!, field: 'status.phase', value, overwrote });
  }

  async function deleteOne(r: Replica): Promise<void> {
    const resource = pick(rnd, ['configmaps', 'configmaps', 'pods']);
    const items = liveOn(r, resource);
    if (items.length === 0) return;
    const obj = pick(rnd, items);
    await r.store.delete(resource, NS, obj.metadata.name!);
    writes.push({ replica: r.id, kind: 'delete', resource, name: obj.metadata.name!, uid: obj.metadata.uid! });
  }

  function check(rounds: number): { superseded: number; overwritten: number } {
    let superseded = 0;
    let overwritten = 0;
    const snaps = replicas.map((r) => JSON.stringify(snapshot(r.store, RESOURCES)));
    if (rounds < 0) {
      const a = snapshot(replicas[0].store, RESOURCES);
      const diff = replicas.slice(1).map((r) => {
        const b = snapshot(r.store, RESOURCES);
        const onlyA = [...a.objects, ...a.incarnations].filter((x) => ![...b.objects, ...b.incarnations].includes(x));
        const onlyB = [...b.objects, ...b.incarnations].filter((x) => ![...a.objects, ...a.incarnations].includes(x));
        return `${replicas[0].id} vs ${r.id}: only ${replicas[0].id}: ${onlyA.join(' | ')}; only ${r.id}: ${onlyB.join(' | ')}`;
      }).join('\n');
      throw new Error(`replicas did not converge after anti-entropy:\n${diff}`);
    }
    const ref = replicas[0].store;
    const byValue = new Map<string, Write>();
    for (const w of writes) if (w.value !== undefined) byValue.set(w.value, w);
    const deletedUids = new Set(writes.filter((w) => w.kind === 'delete').map((w) => w.uid));
    for (const uid of deletedUids) {
      for (const r of replicas) {
        if (r.store.incarnation(uid)?.live) throw new Error(`deleted incarnation ${uid} is live on ${r.id}`);
      }
    }
    const creates = writes.filter((w) => w.kind === 'create');
    for (const w of writes) {
      const inc = ref.incarnation(w.uid);
      if (!inc) throw new Error(`acknowledged ${w.kind} of ${w.uid} (${w.resource}/${w.name} on ${w.replica}) is unknown everywhere`);
      if (!inc.live) {
        if (deletedUids.has(w.uid)) continue;
        const mine = { hlc: decodeHlc(inc.created) ?? HLC_ZERO, uid: w.uid };
        const winner = creates.find((c) => {
          if (c.uid === w.uid || c.resource !== w.resource || c.name !== w.name) return false;
          const other = ref.incarnation(c.uid);
          if (!other) return false;
          const o = { hlc: decodeHlc(other.created) ?? HLC_ZERO, uid: c.uid };
          const cmp = compareHlc(o.hlc, mine.hlc);
          return cmp > 0 || (cmp === 0 && o.uid > mine.uid);
        });
        if (!winner) throw new Error(`acknowledged ${w.kind} of ${w.uid} (${w.resource}/${w.name}) lost: not live, not deleted, not superseded`);
        if (w.kind === 'create') superseded++;
        continue;
      }
      if (w.kind !== 'update' && w.kind !== 'create') continue;
      const obj = ref.get(w.resource, w.resource === 'nodes' ? '' : NS, w.name);
      if (!obj || obj.metadata.uid !== w.uid) throw new Error(`live incarnation ${w.uid} is not what ${w.resource}/${w.name} serves`);
      const final = getPath(obj, w.field!);
      if (final === w.value) continue;
      const winner = final === undefined ? undefined : byValue.get(final);
      if (!winner || winner.uid !== w.uid || winner.field !== w.field) {
        throw new Error(`write ${w.value} to ${w.resource}/${w.name} ${w.field} lost: field holds ${final}, which no conflicting write explains`);
      }
      overwritten++;
      // The winner must not be something this write had already overwritten.
      for (let v = w.overwrote; v !== undefined; v = byValue.get(v)?.overwrote) {
        if (v === final) throw new Error(`write ${w.value} to ${w.resource}/${w.name} ${w.field} lost to an older value ${final}`);
      }
    }
    return { superseded, overwritten };
  }
}

function getPath(obj: KubeObject, path: string): string | undefined {
  let cur: unknown = obj;
  for (const p of path.split('.')) cur = typeof cur === 'object' && cur !== null ? (cur as Record<string, unknown>)[p] : undefined;
  return typeof cur === 'string' ? cur : undefined;
}

function setPath(obj: KubeObject, path: string, value: string): void {
  const parts = path.split('.');
  let cur = obj as Record<string, unknown>;
  for (const p of parts.slice(0, -1)) {
    if (typeof cur[p] !== 'object' || cur[p] === null) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts.at(-1)!] = value;
}
