// Server-side printing: turns objects into the Table that `kubectl get`
// renders, with the columns kubectl shows against Kubernetes.

import type { KubeObject } from '../object-types.ts';
import { resourceKey, type ResourceType } from '../resources.ts';
import { podPrinter } from './pod-printer.ts';
import { PRINTERS, defaultPrinter } from './printers.ts';
import type { Printer, Table, TableRow } from './types.ts';

export type { Table, TableColumnDefinition, TableRow, PartialObjectMetadata } from './types.ts';

export interface RenderTableOptions {
  /** What each row carries besides its cells; kubectl asks for Metadata by default. */
  includeObject: 'None' | 'Metadata' | 'Object';
  /** Reference time for ages; defaults to the current time. */
  now?: Date;
  /** The list's resourceVersion, copied into the Table's metadata. */
  resourceVersion?: string;
  /** The list's continue token, copied into the Table's metadata. */
  continue?: string;
}

export function printerFor(type: Pick<ResourceType, 'plural' | 'group'>): Printer {
  const key = resourceKey(type);
  if (key === 'pods') return podPrinter;
  return PRINTERS[key] ?? defaultPrinter;
}

function rowObject(obj: KubeObject, includeObject: RenderTableOptions['includeObject']): TableRow['object'] {
  if (includeObject === 'None') return undefined;
  if (includeObject === 'Object') return structuredClone(obj);
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: structuredClone(obj.metadata) };
}

export function renderTable(type: ResourceType, objects: KubeObject[], opts: RenderTableOptions): Table {
  const printer = printerFor(type);
  const now = opts.now ?? new Date();
  const rows = objects.map((obj): TableRow => {
    const row: TableRow = { cells: printer.cells(obj, now) };
    const conditions = printer.conditions?.(obj);
    if (conditions) row.conditions = conditions;
    const object = rowObject(obj, opts.includeObject);
    if (object) row.object = object;
    return row;
  });
  const metadata: Table['metadata'] = {};
  if (opts.resourceVersion !== undefined) metadata.resourceVersion = opts.resourceVersion;
  if (opts.continue !== undefined) metadata.continue = opts.continue;
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata,
    columnDefinitions: printer.columns.map((c) => ({ ...c })),
    rows,
  };
}
