// Kubernetes resource quantities (`500m`, `128Mi`, `1G`, `1e3`). Parsed exactly
// (bigint mantissa and a power of ten) so comparisons such as requests <= limits
// and QoS equality never suffer float rounding; parseQuantity gives the number
// the scheduler sums.

/** value = mantissa * 10^exp10 */
export interface ExactQuantity {
  mantissa: bigint;
  exp10: number;
}

const DECIMAL_SUFFIX: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SUFFIX: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };

export const QUANTITY_FORMAT_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/** Throws an Error with Kubernetes' message when the text is not a quantity. */
export function parseQuantityExact(input: string | number): ExactQuantity {
  const s = typeof input === 'number' ? (Number.isFinite(input) ? String(input) : '') : input;
  const m = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(.*)$/.exec(s);
  if (!m) throw new Error(QUANTITY_FORMAT_ERROR);
  const [, sign, digits, suffix] = m as unknown as [string, string, string, string];
  const dot = digits.indexOf('.');
  const intPart = dot < 0 ? digits : digits.slice(0, dot);
  const frac = dot < 0 ? '' : digits.slice(dot + 1);
  let mantissa = BigInt(`${intPart}${frac}` || '0');
  let exp10 = -frac.length;
  if (suffix in DECIMAL_SUFFIX) {
    exp10 += DECIMAL_SUFFIX[suffix]!;
  } else if (suffix in BINARY_SUFFIX) {
    mantissa *= 1n << BigInt(BINARY_SUFFIX[suffix]!);
  } else {
    const e = /^[eE]([+-]?\d+)$/.exec(suffix);
    if (!e) throw new Error(QUANTITY_FORMAT_ERROR);
    exp10 += Number(e[1]);
  }
  if (sign === '-') mantissa = -mantissa;
  return { mantissa, exp10 };
}

export function parseQuantity(input: string | number): number {
  return exactToNumber(parseQuantityExact(input));
}

export function isQuantity(input: unknown): boolean {
  if (typeof input !== 'string' && typeof input !== 'number') return false;
  try {
    parseQuantityExact(input);
    return true;
  } catch {
    return false;
  }
}

export function exactToNumber(q: ExactQuantity): number {
  const n = Number(q.mantissa);
  return q.exp10 >= 0 ? n * 10 ** q.exp10 : n / 10 ** -q.exp10;
}

function align(a: ExactQuantity, b: ExactQuantity): [bigint, bigint, number] {
  const exp = Math.min(a.exp10, b.exp10);
  return [a.mantissa * 10n ** BigInt(a.exp10 - exp), b.mantissa * 10n ** BigInt(b.exp10 - exp), exp];
}

export function compareExact(a: ExactQuantity, b: ExactQuantity): -1 | 0 | 1 {
  const [x, y] = align(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function addExact(a: ExactQuantity, b: ExactQuantity): ExactQuantity {
  const [x, y, exp] = align(a, b);
  return { mantissa: x + y, exp10: exp };
}

/** Compares two quantity texts exactly; throws on a malformed one. */
export function compareQuantities(a: string | number, b: string | number): -1 | 0 | 1 {
  return compareExact(parseQuantityExact(a), parseQuantityExact(b));
}
