// The PersistentVolume controller (leader-only), the part of Kubernetes'
// persistentvolume binder Mesh needs beside the scheduler's binding:
// - a volume without claimRef is Available; one whose claim (name and uid)
//   holds it by spec.volumeName is Bound;
// - a volume whose claim is gone, or was replaced by one with another uid, or
//   is bound to another volume, becomes Released; Released + reclaim policy
//   Delete deletes the volume (the kubelet of its node then removes a
//   provisioned directory); Retain and Recycle stay Released for an admin;
// - a claim whose spec.volumeName names a volume that holds it is Bound (with
//   the volume's capacity and modes); a Bound claim whose volume vanished is
//   Lost; a claim that names a free matching volume is bound to it.
// A claim that seems gone is given claimGraceMs before its volume is released,
// as a new leader's replica may lag the claim by a gossip round and a Delete
// volume's data can't come back.
import type { ObjectClient } from '../api/object-client.ts';
import type { KubeObject } from '../api/object-types.ts';
import { NotFound } from '../api/errors.ts';
import {
  claimRefMatches,
  type PersistentVolume,
  type PersistentVolumeClaim,
} from '../api/persistent-volume-types.ts';
import { createEventRecorder, type EventRecorder } from '../event-recorder.ts';
import type { Logger } from '../logger.ts';
import { jsonEqual } from '../store/json-equal.ts';
import { volumeSatisfiesClaim } from '../scheduler/volume-matching.ts';
import { bindClaimToVolume, PV_RESOURCE, PVC_RESOURCE } from '../scheduler/volume-provisioner.ts';
import { defineController, type Controller, type ControllerEvent, type ReconcileResult } from './controller.ts';

const DEFAULT_CLAIM_GRACE_MS = 5_000;
const PV_KEY = 'pv:';
const PVC_KEY = 'pvc:';

export interface PersistentVolumeControllerOptions {
  client: ObjectClient;
  logger: Logger;
  /** Where VolumeDeleted/ClaimLost/... go; by default Events of component `persistentvolume-controller`. */
  events?: EventRecorder;
  clock?: () => Date;
  /** How long a claim must stay missing before its volume is released (default 5 s). */
  claimGraceMs?: number;
  resyncMs?: number;
}

function claimKey(namespace: string | undefined, name: string | undefined): string {
  return `${namespace ?? 'default'}/${name ?? ''}`;
}

/** Whether the claim that the volume's claimRef names (this name and uid) exists. */
function refersTo(pv: PersistentVolume, pvc: PersistentVolumeClaim | undefined): pvc is PersistentVolumeClaim {
  return pvc !== undefined && claimRefMatches(pv, pvc);
}

export function createPersistentVolumeController(opts: PersistentVolumeControllerOptions): Controller {
  const { client } = opts;
  const log = opts.logger.child({ component: 'persistentvolume-controller' });
  const clock = opts.clock ?? (() => new Date());
  const graceMs = Math.max(0, opts.claimGraceMs ?? DEFAULT_CLAIM_GRACE_MS);
  const events = opts.events ?? createEventRecorder({ client, source: { component: 'persistentvolume-controller' }, logger: opts.logger });
  // Routing only (reconcile reads the store): claim key -> volumes whose claimRef names it,
  // and volume name -> claims whose spec.volumeName names it.
  const volumesOfClaim = new Map<string, Set<string>>();
  const claimsOfVolume = new Map<string, Set<string>>();
  const volumeRef = new Map<string, string>();
  const claimRef = new Map<string, string>();
  /** When a volume's claim was first seen missing, per volume name. */
  const missingSince = new Map<string, number>();

  function link(index: Map<string, Set<string>>, back: Map<string, string>, from: string, to: string | undefined): void {
    const prev = back.get(from);
    if (prev === to) return;
    if (prev !== undefined) {
      const set = index.get(prev);
      set?.delete(from);
      if (set?.size === 0) index.delete(prev);
      back.delete(from);
    }
    if (to === undefined) return;
    back.set(from, to);
    let set = index.get(to);
    if (!set) index.set(to, (set = new Set()));
    set.add(from);
  }

  function volumeToKeys(e: ControllerEvent): string[] {
    const pv = e.object as PersistentVolume;
    const name = pv.metadata.name ?? '';
    const ref = pv.spec?.claimRef;
    const refKey = ref?.name ? claimKey(ref.namespace, ref.name) : undefined;
    const prevRef = volumeRef.get(name);
    link(volumesOfClaim, volumeRef, name, e.type === 'DELETED' ? undefined : refKey);
    if (e.type === 'DELETED') missingSince.delete(name);
    const keys = [PV_KEY + name];
    for (const k of new Set([refKey, prevRef])) if (k) keys.push(PVC_KEY + k);
    for (const c of claimsOfVolume.get(name) ?? []) keys.push(PVC_KEY + c);
    return keys;
  }

  function claimToKeys(e: ControllerEvent): string[] {
    const pvc = e.object as PersistentVolumeClaim;
    const key = claimKey(pvc.metadata.namespace, pvc.metadata.name);
    const volumeName = pvc.spec?.volumeName || undefined;
    const prev = claimRef.get(key);
    link(claimsOfVolume, claimRef, key, e.type === 'DELETED' ? undefined : volumeName);
    const keys = [PVC_KEY + key];
    for (const v of new Set([volumeName, prev])) if (v) keys.push(PV_KEY + v);
    for (const v of volumesOfClaim.get(key) ?? []) keys.push(PV_KEY + v);
    return keys;
  }

  async function setVolumePhase(pv: PersistentVolume, phase: string): Promise<PersistentVolume> {
    if (pv.status?.phase === phase) return pv;
    log.info({ volume: pv.metadata.name, from: pv.status?.phase, to: phase }, 'volume phase');
    return client.updateStatus(PV_RESOURCE, { ...pv, status: { ...pv.status, phase } });
  }

  async function note(obj: KubeObject, type: 'normal' | 'warning', reason: string, message: string): Promise<void> {
    try {
      await events[type](obj, reason, message);
    } catch (err) {
      log.warn({ err, reason }, 'recording an event failed');
    }
  }

  async function reconcileVolume(name: string): Promise<ReconcileResult | void> {
    const pv = client.get<PersistentVolume>(PV_RESOURCE, '', name);
    if (!pv || pv.metadata.deletionTimestamp) return;
    const ref = pv.spec?.claimRef;
    const phase = pv.status?.phase;
    if (!ref) {
      missingSince.delete(name);
      await setVolumePhase(pv, 'Available');
      return;
    }
    const claim = ref.name ? client.get<PersistentVolumeClaim>(PVC_RESOURCE, ref.namespace ?? 'default', ref.name) : undefined;
    if (refersTo(pv, claim)) {
      missingSince.delete(name);
      const bound = claim.spec?.volumeName;
      if (bound === name) {
        await setVolumePhase(pv, 'Bound');
        return;
      }
      // Pre-bound to a claim that is not bound yet (or a binding in progress): leave it to the binder.
      if (!bound) {
        if (phase === undefined || phase === 'Pending') await setVolumePhase(pv, 'Available');
        return;
      }
      // The claim went to another volume; only a volume that had been bound to it (uid) is released.
      if (!ref.uid) return;
    } else if (!ref.uid) {
      // Pre-bound by name to a claim that doesn't exist yet.
      missingSince.delete(name);
      if (phase === undefined || phase === 'Pending') await setVolumePhase(pv, 'Available');
      return;
    }
    if (phase === 'Failed') return;
    if (phase !== 'Released') {
      const now = clock().getTime();
      const since = missingSince.get(name) ?? now;
      missingSince.set(name, since);
      if (now - since < graceMs) return { requeueAfterMs: since + graceMs - now };
      missingSince.delete(name);
      await setVolumePhase(pv, 'Released');
      return;
    }
    if (pv.spec?.persistentVolumeReclaimPolicy !== 'Delete') return;
    try {
      await client.delete(PV_RESOURCE, '', name, { preconditions: { uid: pv.metadata.uid } });
    } catch (err) {
      if (err instanceof NotFound) return;
      throw err;
    }
    log.info({ volume: name, claim: `${ref.namespace}/${ref.name}` }, 'deleted a released volume');
    await note(pv, 'normal', 'VolumeDeleted', `Deleted released volume ${name} (reclaim policy Delete)`);
  }

  async function reconcileClaim(key: string): Promise<void> {
    const slash = key.indexOf('/');
    const namespace = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const pvc = client.get<PersistentVolumeClaim>(PVC_RESOURCE, namespace, name);
    if (!pvc || pvc.metadata.deletionTimestamp) return;
    const phase = pvc.status?.phase;
    const volumeName = pvc.spec?.volumeName;
    if (!volumeName) {
      if (phase === undefined) await client.updateStatus(PVC_RESOURCE, { ...pvc, status: { ...pvc.status, phase: 'Pending' } });
      return;
    }
    const pv = client.get<PersistentVolume>(PV_RESOURCE, '', volumeName);
    if (!pv) {
      if (phase === 'Bound') {
        await client.updateStatus(PVC_RESOURCE, { ...pvc, status: { ...pvc.status, phase: 'Lost' } });
        log.warn({ claim: key, volume: volumeName }, 'bound claim lost its volume');
        await note(pvc, 'warning', 'ClaimLost', 'Bound claim has lost its PersistentVolume. Data on the volume is lost!');
      }
      return;
    }
    if (claimRefMatches(pv, pvc) && pv.spec?.claimRef?.uid) {
      const status = {
        ...pvc.status,
        phase: 'Bound',
        accessModes: pvc.status?.accessModes ?? [...(pv.spec?.accessModes ?? [])],
        capacity: pvc.status?.capacity ?? { ...pv.spec?.capacity },
      };
      if (!jsonEqual(status, pvc.status ?? {})) await client.updateStatus(PVC_RESOURCE, { ...pvc, status });
      return;
    }
    if (!pv.spec?.claimRef) {
      // The claim names a free volume (pre-bound by the user): bind them if it fits.
      if (volumeSatisfiesClaim(pv, pvc)) {
        await bindClaimToVolume(client, pvc, pv);
        log.info({ claim: key, volume: volumeName }, 'bound a claim to the volume it names');
      } else {
        await note(pvc, 'warning', 'VolumeMismatch', `Cannot bind to requested volume "${volumeName}": it does not satisfy the claim (class, size, access modes or volume mode)`);
      }
      return;
    }
    // The volume holds another claim.
    if (phase === 'Bound') {
      await client.updateStatus(PVC_RESOURCE, { ...pvc, status: { ...pvc.status, phase: 'Lost' } });
      await note(pvc, 'warning', 'ClaimMisbound', 'Two claims are bound to the same volume, this one is bound incorrectly');
    }
  }

  return defineController({
    name: 'persistentvolume-controller',
    resyncMs: opts.resyncMs,
    watches: [
      { resource: PV_RESOURCE, toKeys: volumeToKeys },
      { resource: PVC_RESOURCE, toKeys: claimToKeys },
    ],
    onStart() {
      volumesOfClaim.clear();
      claimsOfVolume.clear();
      volumeRef.clear();
      claimRef.clear();
      missingSince.clear();
    },
    async reconcile(key) {
      if (key.startsWith(PV_KEY)) return reconcileVolume(key.slice(PV_KEY.length));
      if (key.startsWith(PVC_KEY)) return reconcileClaim(key.slice(PVC_KEY.length));
    },
  });
}
