// What every pod-owning controller (ReplicaSet, DaemonSet, StatefulSet, Job)
// does alike: the parts it is made of, a pod from its owner's template,
// creating and deleting owned pods with the expectations bookkeeping and the
// Successful/Failed Create/Delete events, and the watches that feed those
// expectations.
import type { ObjectClient } from '../api/object-client.ts';
import type { KubeObject, Pod } from '../api/object-types.ts';
import { NotFound } from '../api/errors.ts';
import { createEventRecorder, type EventRecorder } from '../event-recorder.ts';
import type { Logger } from '../logger.ts';
import type { ControllerEvent, ControllerWatch } from './controller.ts';
import { createExpectations, type Expectations } from './expectations.ts';
import { newControllerRef } from './owner-refs.ts';
import { slowStartBatch } from './slow-start-batch.ts';

export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; finalizers?: string[] };
  spec?: unknown;
}

/** What every pod-owning controller is made from. */
export interface PodOwnerControllerOptions {
  client: ObjectClient;
  logger: Logger;
  /** Where SuccessfulCreate/SuccessfulDelete and the like go; by default Events of the controller's component. */
  events?: EventRecorder;
  clock?: () => Date;
  /** How long an unseen write blocks further ones (default 5 min). */
  expectationsTimeoutMs?: number;
  /** Periodic full resync (none by default: every change is watched). */
  resyncMs?: number;
}

export interface PodOwnerParts {
  log: Logger;
  clock: () => Date;
  events: EventRecorder;
  expectations: Expectations;
  ownedPods: OwnedPods;
}

/** The logger, clock, event recorder, expectations and pod writer of the pod-owning controller named component. */
export function createPodOwnerParts(opts: PodOwnerControllerOptions, component: string): PodOwnerParts {
  const { client } = opts;
  const clock = opts.clock ?? (() => new Date());
  const events = opts.events ?? createEventRecorder({ client, source: { component }, logger: opts.logger });
  const expectations = createExpectations({ clock, timeoutMs: opts.expectationsTimeoutMs });
  return { log: opts.logger.child({ component }), clock, events, expectations, ownedPods: createOwnedPods({ client, events, expectations }) };
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A new pod from owner's template: generateName `<owner>-`, the controller ownerReference, extra labels on top. */
export function podFromOwnerTemplate(
  owner: KubeObject,
  template: PodTemplate | undefined,
  kind: string,
  apiVersion: string,
  extraLabels: Record<string, string> = {},
): Pod {
  const t = template ?? {};
  const metadata: Pod['metadata'] = {
    generateName: `${owner.metadata.name}-`,
    namespace: owner.metadata.namespace,
    labels: { ...(t.metadata?.labels ?? {}), ...extraLabels },
    ownerReferences: [newControllerRef(owner, kind, apiVersion)],
  };
  if (t.metadata?.annotations) metadata.annotations = { ...t.metadata.annotations };
  if (t.metadata?.finalizers?.length) metadata.finalizers = [...t.metadata.finalizers];
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec: structuredClone(t.spec ?? { containers: [] }) as Pod['spec'] };
}

const keyOf = (o: KubeObject) => `${o.metadata.namespace ?? 'default'}/${o.metadata.name ?? ''}`;

/** The watch of the owners themselves: each change queues its owner; a deleted owner's expectations go. */
export function ownerWatch(resource: string, expectations: Expectations): ControllerWatch {
  return {
    resource,
    toKeys: (e) => {
      if (e.type === 'DELETED') expectations.forget(keyOf(e.object));
      return [keyOf(e.object)];
    },
  };
}

/**
 * The key of the owner named ownerName of the pod in event, after noting what
 * the change shows of that owner's expected creates and deletes (a resync's
 * replays show nothing new).
 */
export function observeOwnedPod(expectations: Expectations, event: ControllerEvent, ownerName: string): string {
  const pod = event.object;
  const key = `${pod.metadata.namespace ?? 'default'}/${ownerName}`;
  if (!event.resync) {
    if (event.type === 'ADDED') expectations.creationObserved(key);
    if (event.type === 'DELETED' || pod.metadata.deletionTimestamp) expectations.deletionObserved(key, pod.metadata.uid ?? '');
  }
  return key;
}

export interface OwnedPods {
  /** Creates count pods (slow start); the pods made and the first error. */
  create(key: string, owner: KubeObject, count: number, podAt: (i: number) => Pod): Promise<{ created: Pod[]; error?: unknown }>;
  /** Deletes victims; the uids whose delete failed (a pod already gone counts as deleted) and the first such error. */
  delete(key: string, owner: KubeObject, victims: readonly Pod[]): Promise<{ failed: Set<string>; error?: unknown }>;
}

export function createOwnedPods(opts: { client: ObjectClient; events: EventRecorder; expectations: Expectations }): OwnedPods {
  const { client, events, expectations } = opts;
  return {
    async create(key, owner, count, podAt) {
      const created: Pod[] = [];
      expectations.expectCreations(key, count);
      const result = await slowStartBatch(count, 1, async (i) => {
        try {
          const pod = await client.create<Pod>('pods', podAt(i));
          created.push(pod);
          await events.normal(owner, 'SuccessfulCreate', `Created pod: ${pod.metadata.name}`);
        } catch (err) {
          expectations.creationObserved(key); // a failed create is never seen
          await events.warning(owner, 'FailedCreate', `Error creating: ${errorMessage(err)}`);
          throw err;
        }
      });
      for (let i = 0; i < result.skipped; i++) expectations.creationObserved(key);
      return { created, error: result.error };
    },

    async delete(key, owner, victims) {
      expectations.expectDeletions(key, victims.map((p) => p.metadata.uid ?? ''));
      const results = await Promise.allSettled(
        victims.map(async (pod) => {
          const uid = pod.metadata.uid ?? '';
          try {
            await client.delete('pods', pod.metadata.namespace ?? 'default', pod.metadata.name ?? '', { preconditions: { uid } });
            await events.normal(owner, 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name}`);
          } catch (err) {
            expectations.deletionObserved(key, uid);
            if (err instanceof NotFound) return;
            await events.warning(owner, 'FailedDelete', `Error deleting: ${errorMessage(err)}`);
            throw err;
          }
        }),
      );
      const failed = new Set(victims.filter((_, i) => results[i]!.status === 'rejected').map((p) => p.metadata.uid ?? ''));
      const error = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason;
      return { failed, error };
    },
  };
}
