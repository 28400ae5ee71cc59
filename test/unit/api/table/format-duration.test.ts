import { test } from 'node:test';
import assert from 'node:assert/strict';
import { humanDuration, timestampAge } from '../../../../src/agent/api/format-duration.ts';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

test('humanDuration follows kubectl precision bands', () => {
  const cases: Array<[number, string]> = [
    [-5 * S, '<invalid>'],
    [-1 * S, '0s'],
    [0, '0s'],
    [45 * S, '45s'],
    [119 * S, '119s'],
    [2 * M, '2m'],
    [5 * M + 12 * S, '5m12s'],
    [9 * M + 59 * S, '9m59s'],
    [10 * M + 30 * S, '10m'],
    [179 * M, '179m'],
    [3 * H, '3h'],
    [3 * H + 10 * M, '3h10m'],
    [7 * H + 59 * M, '7h59m'],
    [8 * H + 30 * M, '8h'],
    [47 * H, '47h'],
    [2 * D, '2d'],
    [4 * D + 2 * H, '4d2h'],
    [8 * D + 5 * H, '8d'],
    [729 * D, '729d'],
    [2 * 365 * D, '2y'],
    [2 * 365 * D + 30 * D, '2y30d'],
    [9 * 365 * D + 100 * D, '9y'],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms} ms`);
});

test('timestampAge handles missing and unparsable timestamps', () => {
  const now = new Date('2025-01-01T12:00:00Z');
  assert.equal(timestampAge('2025-01-01T11:55:00Z', now), '5m');
  assert.equal(timestampAge(undefined, now), '<unknown>');
  assert.equal(timestampAge('', now), '<unknown>');
  assert.equal(timestampAge('yesterday-ish', now), '<unknown>');
});
