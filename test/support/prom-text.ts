// A strict parser for the Prometheus text exposition format (0.0.4), for tests:
// every line must be blank, a comment, HELP/TYPE, or `name{labels} value
// [timestamp]`, and every sample must belong to a family declared by TYPE.

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  name: string;
  type: string;
  help?: string;
  samples: PromSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES: Record<string, string[]> = {
  counter: ['_total', '_created', ''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count', '_created'],
  summary: ['', '_sum', '_count', '_created'],
};

function fail(lineNo: number, line: string, why: string): never {
  throw new Error(`line ${lineNo}: ${why}: ${JSON.stringify(line)}`);
}

/** Go's strconv.ParseFloat, which Prometheus uses: NaN and Inf in any case (prom-client writes `Nan`). */
function parseValue(text: string): number | undefined {
  const lower = text.toLowerCase();
  if (lower === 'nan') return NaN;
  if (lower === '+inf' || lower === 'inf' || lower === '+infinity' || lower === 'infinity') return Infinity;
  if (lower === '-inf' || lower === '-infinity') return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}

/** Parses `{a="x",b="y"}` starting at i (the brace); returns the labels and the index after `}`. */
function parseLabels(line: string, i: number, lineNo: number): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  i++; // {
  while (true) {
    if (line[i] === '}') return [labels, i + 1];
    const eq = line.indexOf('=', i);
    if (eq < 0) fail(lineNo, line, 'label without =');
    const name = line.slice(i, eq);
    if (!LABEL_NAME.test(name)) fail(lineNo, line, `bad label name ${name}`);
    if (name in labels) fail(lineNo, line, `duplicate label ${name}`);
    i = eq + 1;
    if (line[i] !== '"') fail(lineNo, line, 'label value not quoted');
    i++;
    let value = '';
    while (i < line.length && line[i] !== '"') {
      if (line[i] === '\\') {
        const next = line[i + 1];
        if (next === '\\' || next === '"') value += next;
        else if (next === 'n') value += '\n';
        else fail(lineNo, line, 'bad escape in label value');
        i += 2;
      } else {
        value += line[i];
        i++;
      }
    }
    if (line[i] !== '"') fail(lineNo, line, 'unterminated label value');
    labels[name] = value;
    i++;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') fail(lineNo, line, 'expected , or } after a label');
  }
}

export function parsePromText(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  const familyOf = (sampleName: string): PromFamily | undefined => {
    for (const f of families.values()) {
      if (SUFFIXES[f.type]!.some((s) => sampleName === f.name + s)) return f;
    }
    return undefined;
  };
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  lines.forEach((line, idx) => {
    const lineNo = idx + 1;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!m) return; // a plain comment
      const [, kind, name, rest = ''] = m as unknown as [string, string, string, string?];
      if (!NAME.test(name)) fail(lineNo, line, 'bad metric name');
      let f = families.get(name);
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) fail(lineNo, line, `unknown type ${rest}`);
        if (f && f.type !== 'untyped') fail(lineNo, line, 'second TYPE for a family');
        if (f && f.samples.length > 0) fail(lineNo, line, 'TYPE after samples');
        if (f) f.type = rest;
        else families.set(name, { name, type: rest, samples: [] });
      } else {
        if (f?.help !== undefined) fail(lineNo, line, 'second HELP for a family');
        if (!f) families.set(name, (f = { name, type: 'untyped', samples: [] }));
        f.help = rest;
      }
      return;
    }
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) fail(lineNo, line, 'not a sample');
    const name = line.slice(0, nameEnd);
    if (!NAME.test(name)) fail(lineNo, line, 'bad metric name');
    let labels: Record<string, string> = {};
    let i = nameEnd;
    if (line[i] === '{') [labels, i] = parseLabels(line, i, lineNo);
    if (line[i] !== ' ') fail(lineNo, line, 'expected a space before the value');
    const parts = line.slice(i + 1).split(' ');
    if (parts.length < 1 || parts.length > 2) fail(lineNo, line, 'expected value [timestamp]');
    const value = parseValue(parts[0]!);
    if (value === undefined) fail(lineNo, line, 'bad value');
    if (parts.length === 2 && !/^-?\d+$/.test(parts[1]!)) fail(lineNo, line, 'bad timestamp');
    const family = familyOf(name);
    if (!family) fail(lineNo, line, 'sample of a family without TYPE');
    family.samples.push({ name, labels, value });
  });
  return families;
}
