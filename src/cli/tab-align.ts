// Elastic tabstops as Go's text/tabwriter computes them (kubectl describe prints
// through one): a column's width is taken over each run of consecutive lines
// that have a tab-terminated cell in that column. Text after a line's last tab
// is not aligned.

export function alignTabs(lines: string[], padding = 2): string[] {
  const cells = lines.map((l) => l.split('\t'));
  const widths: number[][] = cells.map((c) => new Array<number>(Math.max(0, c.length - 1)).fill(0));
  const maxCols = Math.max(0, ...cells.map((c) => c.length - 1));
  for (let col = 0; col < maxCols; col++) {
    let start = 0;
    while (start < cells.length) {
      if (cells[start]!.length - 1 <= col) {
        start++;
        continue;
      }
      let end = start;
      let width = 0;
      while (end < cells.length && cells[end]!.length - 1 > col) {
        width = Math.max(width, cells[end]![col]!.length);
        end++;
      }
      for (let i = start; i < end; i++) widths[i]![col] = width + padding;
      start = end;
    }
  }
  return cells.map((c, i) => c.map((cell, col) => (col < c.length - 1 ? cell.padEnd(widths[i]![col]!) : cell)).join('').trimEnd());
}
