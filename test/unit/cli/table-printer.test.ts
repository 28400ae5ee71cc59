import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTable, formatCell, type Table } from '../../../src/cli/table-printer.ts';
import { alignTabs } from '../../../src/cli/tab-align.ts';

const table: Table = {
  kind: 'Table',
  columnDefinitions: [
    { name: 'Name', type: 'string' },
    { name: 'Ready', type: 'string' },
    { name: 'Status', type: 'string' },
    { name: 'IP', type: 'string', priority: 1 },
  ],
  rows: [
    { cells: ['hello', '1/1', 'Running', '10.244.0.5'], object: { metadata: { name: 'hello', namespace: 'default' } } },
    { cells: ['a-much-longer-name', '0/1', 'Pending', null], object: { metadata: { name: 'a-much-longer-name', namespace: 'kube-system' } } },
  ],
};

test('columns are padded to the widest cell plus 3 spaces, headers upper-case, wide columns hidden', () => {
  const lines = formatTable(table);
  assert.deepEqual(lines, [
    'NAME                 READY   STATUS',
    'hello                1/1     Running',
    'a-much-longer-name   0/1     Pending',
  ]);
});

test('-o wide adds priority columns; null cells print <none>', () => {
  const lines = formatTable(table, { wide: true });
  assert.equal(lines[0], 'NAME                 READY   STATUS    IP');
  assert.equal(lines[2], 'a-much-longer-name   0/1     Pending   <none>');
});

test('-A adds a NAMESPACE column from the row objects', () => {
  const lines = formatTable(table, { withNamespace: true });
  assert.equal(lines[0], 'NAMESPACE     NAME                 READY   STATUS');
  assert.equal(lines[1], 'default       hello                1/1     Running');
  assert.equal(lines[2], 'kube-system   a-much-longer-name   0/1     Pending');
});

test('name prefix and no headers', () => {
  const lines = formatTable(table, { namePrefix: 'pod/', noHeaders: true });
  assert.equal(lines.length, 2);
  assert.ok(lines[0]!.startsWith('pod/hello   '));
});

test('no trailing whitespace on any line', () => {
  for (const l of formatTable(table, { wide: true, withNamespace: true })) assert.equal(l, l.trimEnd());
});

test('formatCell renders numbers, booleans, arrays', () => {
  assert.equal(formatCell(3), '3');
  assert.equal(formatCell(false), 'false');
  assert.equal(formatCell(['a', 'b']), 'a,b');
  assert.equal(formatCell(undefined), '<none>');
});

test('alignTabs aligns runs of consecutive lines only', () => {
  const out = alignTabs(['Name:\tx', 'Namespace:\tdefault', 'Containers:', '  c:\tv', '  longer-key:\tw'], 2);
  assert.deepEqual(out, ['Name:       x', 'Namespace:  default', 'Containers:', '  c:           v', '  longer-key:  w']);
});
