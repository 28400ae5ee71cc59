// Records Kubernetes Events about objects (Scheduled, FailedScheduling, ...).
// Repeats of the same reason+message on the same object bump `count` and
// `lastTimestamp` instead of piling up new Events, as Kubernetes does.
import { createHash } from 'node:crypto';
import type { ObjectClient } from './api/object-client.ts';
import type { KubeObject } from './api/object-types.ts';
import type { Logger } from './logger.ts';

export interface EventSource {
  component: string;
  host?: string;
}

export interface EventRecorder {
  normal(obj: KubeObject, reason: string, message: string): Promise<void>;
  warning(obj: KubeObject, reason: string, message: string): Promise<void>;
}

export function createEventRecorder(opts: {
  client: ObjectClient;
  source: EventSource;
  logger: Logger;
  clock?: () => Date;
}): EventRecorder {
  const clock = opts.clock ?? (() => new Date());
  const log = opts.logger.child({ component: 'events' });

  async function record(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const ns = obj.metadata.namespace ?? 'default';
    const involved = {
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      name: obj.metadata.name ?? '',
      namespace: obj.metadata.namespace,
      uid: obj.metadata.uid,
      resourceVersion: obj.metadata.resourceVersion,
    };
    // A stable name per (object, reason, message) lets a repeat find its Event.
    const digest = createHash('sha256')
      .update(`${involved.uid}/${type}/${reason}/${message}/${opts.source.component}`)
      .digest('hex')
      .slice(0, 16);
    const name = `${involved.name}.${digest}`;
    const now = clock().toISOString().replace(/\.\d+Z$/, 'Z');
    try {
      const existing = opts.client.get('events', ns, name);
      if (existing) {
        await opts.client.update('events', {
          ...existing,
          count: ((existing.count as number | undefined) ?? 1) + 1,
          lastTimestamp: now,
        });
        return;
      }
      await opts.client.create('events', {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace: ns },
        involvedObject: involved,
        reason,
        message,
        type,
        source: opts.source,
        count: 1,
        firstTimestamp: now,
        lastTimestamp: now,
        reportingComponent: opts.source.component,
        reportingInstance: opts.source.host ?? '',
      });
    } catch (err) {
      // Events are best effort: losing one must never fail the work it describes.
      log.debug({ err, reason, object: `${ns}/${involved.name}` }, 'could not record event');
    }
  }

  return {
    normal: (obj, reason, message) => record(obj, 'Normal', reason, message),
    warning: (obj, reason, message) => record(obj, 'Warning', reason, message),
  };
}
