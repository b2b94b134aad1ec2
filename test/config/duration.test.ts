import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/config/duration.js';

describe('parseDuration (Prometheus syntax)', () => {
  it.each([
    ['0', 0],
    ['0s', 0],
    ['1ms', 0.001],
    ['500ms', 0.5],
    ['10s', 10],
    ['90s', 90],
    ['1m', 60],
    ['1m30s', 90],
    ['1h', 3600],
    ['1h1m1s1ms', 3661.001],
    ['1d', 86_400],
    ['1w', 604_800],
    ['1y', 31_536_000],
    ['2y3w4d5h6m7s8ms', 2 * 31_536_000 + 3 * 604_800 + 4 * 86_400 + 5 * 3600 + 6 * 60 + 7.008],
    ['007s', 7],
  ])('%s → %d s', (text, seconds) => {
    expect(parseDuration(text)).toBeCloseTo(seconds, 9);
  });

  it.each([
    '',
    '10',
    '10 seconds',
    ' 10s',
    '10s ',
    '1.5s',
    '-1s',
    '+1s',
    '1S',
    '10sec',
    '1s1m',
    '1m1m',
    'm',
    '1ms1s',
    '1us',
    '1ns',
    'P1D',
    '1h 30m',
  ])('rejects %j', (text) => {
    expect(() => parseDuration(text)).toThrow(`invalid duration "${text}"`);
  });

  it('rejects amounts beyond exact millisecond arithmetic', () => {
    expect(() => parseDuration('99999999999999999y')).toThrow('out of range');
  });

  it('rejects non-strings as bad arguments', () => {
    expect(() => parseDuration(10 as unknown as string)).toThrow(TypeError);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [0.001, '1ms'],
    [0.5, '500ms'],
    [10, '10s'],
    [90, '1m30s'],
    [300, '5m'],
    [3661.001, '1h1m1s1ms'],
    [86_400, '1d'],
    [604_800 + 86_400, '1w1d'],
    [31_536_000, '1y'],
    [0.0004, '0s'],
  ])('%d s → %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it('round-trips with parseDuration', () => {
    for (const text of ['1ms', '1m30s', '2y3w4d5h6m7s8ms', '5m', '1d12h']) expect(formatDuration(parseDuration(text))).toBe(text);
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('refuses %d', (seconds) => {
    expect(() => formatDuration(seconds)).toThrow(RangeError);
  });
});
