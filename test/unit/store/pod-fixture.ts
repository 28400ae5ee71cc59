// Realistic Pod objects for the store tests and the benchmark.

import { randomUUID } from 'node:crypto';
import type { KubeObject } from '../../../src/agent/api/object-types.ts';

export function makePod(name: string, namespace = 'default', extra: { labels?: Record<string, string>; image?: string } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      uid: randomUUID(),
      creationTimestamp: new Date().toISOString(),
      labels: extra.labels ?? { app: 'web', tier: 'frontend' },
    },
    spec: {
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
      containers: [
        {
          name: 'web',
          image: extra.image ?? 'nginx:1.27',
          imagePullPolicy: 'IfNotPresent',
          ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }],
          env: [
            { name: 'MODE', value: 'production' },
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name', apiVersion: 'v1' } } },
          ],
          resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
          volumeMounts: [{ name: 'data', mountPath: '/data' }],
        },
        {
          name: 'sidecar',
          image: 'busybox:1.36',
          command: ['sh', '-c', 'while true; do sleep 3600; done'],
          resources: { requests: { cpu: '10m', memory: '8Mi' } },
        },
      ],
      volumes: [{ name: 'data', emptyDir: {} }],
    },
    status: { phase: 'Pending', qosClass: 'Burstable' },
  };
}
