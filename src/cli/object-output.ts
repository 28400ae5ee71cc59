// `-o yaml|json|name` output of objects and lists.
import { stringify } from 'yaml';
import type { KubeObject } from '../agent/api/object-types.ts';
import { groupVersion, type ResourceType } from '../agent/api/resources.ts';
import { typePrefix } from './resource-paths.ts';

export type OutputFormat = 'table' | 'wide' | 'yaml' | 'json' | 'name';

export function parseOutputFormat(o: string | undefined): OutputFormat {
  if (o === undefined || o === '') return 'table';
  if (o === 'wide' || o === 'yaml' || o === 'json' || o === 'name') return o;
  throw new Error(`unable to match a printer suitable for the output format "${o}", allowed formats are: json,name,wide,yaml`);
}

/** List items come back without apiVersion/kind; put them back as kubectl does. */
export function withTypeMeta(obj: KubeObject, t: ResourceType): KubeObject {
  return { ...obj, apiVersion: obj.apiVersion ?? groupVersion(t), kind: obj.kind ?? t.kind };
}

export function formatObjects(objs: KubeObject[], format: 'yaml' | 'json' | 'name', t: ResourceType, asList: boolean): string {
  if (format === 'name') return objs.map((o) => `${typePrefix(t)}/${o.metadata.name}\n`).join('');
  const value = asList ? { apiVersion: 'v1', kind: 'List', items: objs, metadata: { resourceVersion: '' } } : objs[0];
  if (format === 'json') return JSON.stringify(value, null, 4) + '\n';
  return stringify(value, { lineWidth: 0 });
}
