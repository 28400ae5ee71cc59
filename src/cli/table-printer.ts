// Prints Kubernetes Table responses (meta.k8s.io/v1 Table) the way kubectl does:
// upper-case headers, columns padded to their widest cell plus 3 spaces,
// priority>0 columns only with -o wide, a NAMESPACE column with -A.

export interface TableColumn {
  name: string;
  type?: string;
  format?: string;
  description?: string;
  priority?: number;
}

export interface TableRow {
  cells: unknown[];
  object?: { kind?: string; metadata?: { name?: string; namespace?: string } };
}

export interface Table {
  kind: 'Table';
  apiVersion?: string;
  metadata?: { resourceVersion?: string };
  columnDefinitions?: TableColumn[];
  rows?: TableRow[];
}

export interface TableOptions {
  wide?: boolean;
  /** Adds a NAMESPACE column first (taken from each row's object metadata). */
  withNamespace?: boolean;
  /** Prefix for the NAME column: `pod/` when several types print together. */
  namePrefix?: string;
  noHeaders?: boolean;
}

const PADDING = 3;

export function isTable(v: unknown): v is Table {
  return !!v && typeof v === 'object' && (v as { kind?: unknown }).kind === 'Table';
}

export function formatCell(v: unknown): string {
  if (v === null || v === undefined) return '<none>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.map(formatCell).join(',');
  return JSON.stringify(v);
}

/**
 * Turns a table into printable cell strings: picks the visible columns and adds
 * NAMESPACE / the name prefix. Kept separate from padding so watch output can
 * reuse the widths of the first page.
 */
export interface PreparedTable {
  headers: string[];
  rows: string[][];
}

export function prepareTable(table: Table, columnsFrom: TableColumn[] | undefined, opts: TableOptions = {}): PreparedTable {
  const columns = columnsFrom ?? table.columnDefinitions ?? [];
  const visible = columns.map((c, i) => ({ c, i })).filter(({ c }) => opts.wide || !c.priority);
  const nameIdx = columns.findIndex((c) => c.name.toLowerCase() === 'name');
  const headers = visible.map(({ c }) => c.name.toUpperCase());
  if (opts.withNamespace) headers.unshift('NAMESPACE');
  const rows = (table.rows ?? []).map((r) => {
    const cells = visible.map(({ i }) => {
      const s = formatCell(r.cells[i]);
      return i === nameIdx && opts.namePrefix ? opts.namePrefix + s : s;
    });
    if (opts.withNamespace) cells.unshift(r.object?.metadata?.namespace ?? '');
    return cells;
  });
  return { headers, rows };
}

export function columnWidths(p: PreparedTable, includeHeaders = true): number[] {
  const widths = p.headers.map((h) => (includeHeaders ? h.length : 0));
  for (const r of p.rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return widths;
}

/** One line; the last column is not padded (no trailing spaces). */
export function padRow(cells: string[], widths: number[]): string {
  return cells
    .map((c, i) => (i === cells.length - 1 ? c : c.padEnd((widths[i] ?? 0) + PADDING)))
    .join('');
}

export function formatPrepared(p: PreparedTable, widths = columnWidths(p), noHeaders = false): string[] {
  const lines = noHeaders ? [] : [padRow(p.headers, widths)];
  for (const r of p.rows) lines.push(padRow(r, widths));
  return lines;
}

export function formatTable(table: Table, opts: TableOptions = {}): string[] {
  const p = prepareTable(table, undefined, opts);
  return formatPrepared(p, columnWidths(p, !opts.noHeaders), opts.noHeaders);
}

/** Plain text columns (describe's Events, fallbacks) with the same alignment rules. */
export function formatColumns(headers: string[], rows: string[][]): string[] {
  const p = { headers, rows };
  return formatPrepared(p, columnWidths(p));
}
