import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareQuantities, isQuantity, parseQuantity, QUANTITY_FORMAT_ERROR } from '../../../../src/agent/api/admission/quantity.ts';

test('parses decimal, binary and exponent suffixes', () => {
  const cases: [string | number, number][] = [
    ['500m', 0.5],
    ['1', 1],
    ['0.25', 0.25],
    ['.5', 0.5],
    ['2.', 2],
    ['128Mi', 128 * 2 ** 20],
    ['1Ki', 1024],
    ['1Gi', 2 ** 30],
    ['1G', 1e9],
    ['1k', 1000],
    ['1M', 1e6],
    ['3T', 3e12],
    ['1P', 1e15],
    ['1E', 1e18],
    ['1e3', 1000],
    ['1E3', 1000],
    ['5e-3', 0.005],
    ['1e+2', 100],
    ['100n', 1e-7],
    ['250u', 0.00025],
    ['-1', -1],
    ['+2Gi', 2 * 2 ** 30],
    [1, 1],
    [0.5, 0.5],
  ];
  for (const [input, want] of cases) assert.equal(parseQuantity(input), want, `parseQuantity(${JSON.stringify(input)})`);
});

test('rejects malformed quantities with the Kubernetes message', () => {
  for (const bad of ['', 'abc', '1.2.3', '12Q', 'Mi', '1 Gi', '1ki', '1e', '1mi', '--1', '1Gi1', ' 1', Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => parseQuantity(bad), { message: QUANTITY_FORMAT_ERROR }, `should reject ${JSON.stringify(bad)}`);
    assert.equal(isQuantity(bad), false);
  }
  assert.equal(isQuantity({}), false);
  assert.equal(isQuantity('1Gi'), true);
});

test('compares exactly across suffixes', () => {
  assert.equal(compareQuantities('1', '1000m'), 0);
  assert.equal(compareQuantities('0.1', '100m'), 0);
  assert.equal(compareQuantities('1Gi', '1G'), 1);
  assert.equal(compareQuantities('999m', '1'), -1);
  assert.equal(compareQuantities('1Ki', '1024'), 0);
  assert.equal(compareQuantities('1e3', '1k'), 0);
});

test('random decimal quantities parse to their value (seeded)', () => {
  const seed = Number(process.env.SEED ?? Date.now() % 1e9);
  let state = seed;
  const rand = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const suffixes: [string, number][] = [['m', 1e-3], ['', 1], ['k', 1e3], ['M', 1e6], ['Ki', 1024], ['Mi', 2 ** 20]];
  for (let i = 0; i < 500; i++) {
    const units = Math.floor(rand() * 100000);
    const [suffix, mult] = suffixes[Math.floor(rand() * suffixes.length)]!;
    const text = `${units}${suffix}`;
    const got = parseQuantity(text);
    const want = units * mult;
    assert.ok(Math.abs(got - want) <= Math.abs(want) * 1e-12, `seed=${seed}: ${text} gave ${got}, want ${want}`);
  }
});
