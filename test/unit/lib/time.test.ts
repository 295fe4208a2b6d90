import { describe, expect, it } from 'vitest';
import {
  formatDuration,
  nanosecondEpoch,
  parseDuration,
  parseTime,
  toRfc3339,
} from '../../../src/lib/time.ts';
import { ToolError } from '../../../src/lib/errors.ts';

const NOW = 1_764_000_000; // 2025-11-24T16:00:00Z

describe('parseTime', () => {
  it('accepts RFC 3339 with Z or an offset', () => {
    expect(parseTime('2025-11-24T16:00:00Z', NOW, 'start')).toBe(NOW);
    expect(parseTime('2025-11-24T17:00:00+01:00', NOW, 'start')).toBe(NOW);
    expect(parseTime('2025-11-24T16:00:00.5Z', NOW, 'start')).toBe(NOW + 0.5);
  });

  it('reads a date-time without offset as UTC', () => {
    expect(parseTime('2025-11-24T16:00:00', NOW, 'start')).toBe(NOW);
    expect(parseTime('2025-11-24 16:00', NOW, 'start')).toBe(NOW);
  });

  it('accepts unix seconds as number or string, and milliseconds by their size', () => {
    expect(parseTime(NOW, NOW, 'time')).toBe(NOW);
    expect(parseTime(String(NOW), NOW, 'time')).toBe(NOW);
    expect(parseTime(NOW * 1000, NOW, 'time')).toBe(NOW);
    expect(parseTime('1764000000.25', NOW, 'time')).toBe(NOW + 0.25);
  });

  it('reads 16-digit epochs as microseconds, and says what the digits of an impossible one look like', () => {
    expect(parseTime(NOW * 1e6 + 250_000, NOW, 'time')).toBe(NOW + 0.25);
    expect(parseTime('1764000000250000', NOW, 'time')).toBe(NOW + 0.25);
    expect(() => parseTime(999_999_999_999_999, NOW, 'time')).toThrow(
      'time (15 digits) is no unix time this side of the year 9999 in seconds (10 digits), milliseconds (13), microseconds (16) or nanoseconds (19).',
    );
  });

  it('reads 19-digit epochs as nanoseconds, and keeps their digits for Loki', () => {
    expect(parseTime('1764000000250000000', NOW, 'end')).toBe(NOW + 0.25);
    expect(nanosecondEpoch(' 1764000000123456789 ', 'end')).toBe('1764000000123456789');
    expect(nanosecondEpoch('1764000000', 'end')).toBeUndefined();
    expect(nanosecondEpoch(1_764_000_000_123, 'end')).toBeUndefined();
    expect(nanosecondEpoch(undefined, 'end')).toBeUndefined();
  });

  it('refuses a nanosecond epoch given as a number, whose last digits JSON has already rounded', () => {
    // 1764000000123456789 read from JSON is 1764000000123456768: a cursor 21 ns early.
    const rounded = JSON.parse('1764000000123456789') as number;
    expect(() => nanosecondEpoch(rounded, 'end')).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: expect.stringContaining('end is a number past 2^53'),
        hint: expect.stringContaining('as a string'),
      }),
    );
    // Microseconds, 16 digits, are still exact.
    expect(nanosecondEpoch(1_764_000_000_123_456, 'start')).toBeUndefined();
  });

  it('resolves now, now-<duration> and bare durations as "ago"', () => {
    expect(parseTime('now', NOW, 'end')).toBe(NOW);
    expect(parseTime('now-1h', NOW, 'start')).toBe(NOW - 3600);
    expect(parseTime('now - 1h30m', NOW, 'start')).toBe(NOW - 5400);
    expect(parseTime('now+5m', NOW, 'end')).toBe(NOW + 300);
    expect(parseTime('30m', NOW, 'start')).toBe(NOW - 1800);
    expect(parseTime('2d', NOW, 'start')).toBe(NOW - 172_800);
  });

  it('reads relative times in any case, as now is, but asks what an M among lower case means', () => {
    expect(parseTime('NOW-1H', NOW, 'start')).toBe(NOW - 3600);
    expect(parseTime('Now-2D', NOW, 'start')).toBe(NOW - 172_800);
    expect(parseTime('30S', NOW, 'start')).toBe(NOW - 30);
    // All in capitals is caps lock: M is minutes.
    expect(parseTime('NOW-1H30M', NOW, 'start')).toBe(NOW - 5400);
    // Grafana's now-6M is six months, which have no fixed length.
    expect(() => parseTime('now-6M', NOW, 'start')).toThrow(/uses M, which could mean months or minutes/);
  });

  it('names the field and gives a hint for nonsense', () => {
    const error = (() => {
      try {
        parseTime('yesterday-ish', NOW, 'start');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ToolError);
    expect((error as ToolError).code).toBe('INVALID_ARGUMENT');
    expect((error as ToolError).message).toContain('start');
    expect((error as ToolError).hint).toContain('RFC 3339');
  });

  it('refuses days and clock times that do not exist instead of rolling them over', () => {
    for (const text of [
      '2026-02-30T00:00:00Z',
      '2026-13-01',
      '2025-02-29',
      '2026-04-31 12:00',
      '2026-01-01T24:00:00Z',
    ]) {
      expect(() => parseTime(text, NOW, 'start'), text).toThrow(/is not a time I understand/);
    }
    expect(parseTime('2024-02-29T00:00:00Z', NOW, 'start')).toBe(Date.UTC(2024, 1, 29) / 1000);
    expect(parseTime('2026-12-31T23:59:59+02:00', NOW, 'start')).toBe(
      Date.UTC(2026, 11, 31, 21, 59, 59) / 1000,
    );
    // A leap second, which RFC 3339 allows: the instant a unix time gives it, the next minute's first second.
    expect(parseTime('2016-12-31T23:59:60Z', NOW, 'start')).toBe(Date.UTC(2017, 0, 1) / 1000);
  });

  it('rejects negative, non-finite and far-future times and bad relative durations', () => {
    expect(() => parseTime(-5, NOW, 'time')).toThrow(ToolError);
    expect(() => parseTime(Number.NaN, NOW, 'time')).toThrow(ToolError);
    expect(() => parseTime('now-1fortnight', NOW, 'time')).toThrow(/unknown duration/);
    expect(() => parseTime('', NOW, 'time')).toThrow(/empty/);
    expect(() => parseTime('99999-01-01', NOW, 'time')).toThrow(ToolError);
  });
});

describe('durations', () => {
  it('parses compound Prometheus durations', () => {
    expect(parseDuration('1h30m')).toBe(5400);
    expect(parseDuration('250ms')).toBe(0.25);
    expect(parseDuration('1w')).toBe(604_800);
    expect(parseDuration('5 minutes')).toBeUndefined();
    expect(parseDuration('h')).toBeUndefined();
  });

  it('formats seconds as the shortest duration', () => {
    expect(formatDuration(90)).toBe('1m30s');
    expect(formatDuration(3600)).toBe('1h');
    expect(formatDuration(43_200)).toBe('12h');
    expect(formatDuration(0.5)).toBe('500ms');
  });

  it('prints RFC 3339 in UTC without zero milliseconds', () => {
    expect(toRfc3339(NOW)).toBe('2025-11-24T16:00:00Z');
    expect(toRfc3339(NOW + 0.25)).toBe('2025-11-24T16:00:00.250Z');
  });
});
