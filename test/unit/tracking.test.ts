import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { basicWriteKey } from '../../src/http/authenticate.ts';
import { MAX_BODY_BYTES, readJsonBody } from '../../src/http/decode.ts';
import { deriveTimestamp, normaliseTracking } from '../../src/http/tracking.ts';

const ARRIVAL = Date.parse('2026-11-28T12:00:00.000Z');
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

describe('deriveTimestamp', () => {
  it('removes the device clock skew: receivedAt − (sentAt − originalTimestamp)', () => {
    const event = { originalTimestamp: '2026-11-28T10:00:00.000Z' };

    // The device clock is 2 h behind: it sent at 10:00:05 device time, the event happened 5 s before.
    expect(deriveTimestamp(event, '2026-11-28T10:00:05.000Z', ARRIVAL)).toBe('2026-11-28T11:59:55.000Z');
  });

  it('prefers the event\'s own sentAt over the envelope\'s', () => {
    const event = { originalTimestamp: '2026-11-28T10:00:00.000Z', sentAt: '2026-11-28T10:00:01.000Z' };

    expect(deriveTimestamp(event, '2026-11-28T10:09:00.000Z', ARRIVAL)).toBe('2026-11-28T11:59:59.000Z');
  });

  it('treats times outside the date range as absent, and falls back to the arrival time when the result leaves it (no RangeError)', () => {
    expect(deriveTimestamp({ originalTimestamp: 1e300 }, undefined, ARRIVAL)).toBe('2026-11-28T12:00:00.000Z');
    // An unusable sentAt is no sentAt: the event keeps its originalTimestamp.
    expect(deriveTimestamp({ originalTimestamp: 0 }, 1e20, ARRIVAL)).toBe('1970-01-01T00:00:00.000Z');
    // Both in range, but receivedAt − (sentAt − originalTimestamp) is not.
    expect(deriveTimestamp({ originalTimestamp: -8.64e15 }, 8.64e15, ARRIVAL)).toBe('2026-11-28T12:00:00.000Z');
  });

  it('uses originalTimestamp without sentAt, and the arrival time without either', () => {
    expect(deriveTimestamp({ originalTimestamp: '2026-11-28T09:00:00.000Z' }, undefined, ARRIVAL)).toBe('2026-11-28T09:00:00.000Z');
    expect(deriveTimestamp({}, '2026-11-28T10:00:00.000Z', ARRIVAL)).toBe('2026-11-28T12:00:00.000Z');
    expect(deriveTimestamp({ originalTimestamp: 'garbage' }, 'also garbage', ARRIVAL)).toBe('2026-11-28T12:00:00.000Z');
  });
});

describe('normaliseTracking', () => {
  it('unpacks a batch envelope, applying its context and integrations under each event\'s own', () => {
    const body = {
      batch: [{ type: 'track', event: 'E', timestamp: 't1', context: { app: 'mine' } }],
      sentAt: '2026-11-28T10:00:00.000Z',
      writeKey: 'wk',
      context: { library: 'sdk', app: 'envelope' },
      integrations: { All: true },
      timestamp: 'envelope-own-time',
    };

    const { events, writeKey } = normaliseTracking(body, 'batch', ARRIVAL);

    expect(writeKey).toBe('wk');
    expect(events).toEqual([
      { type: 'track', event: 'E', timestamp: 't1', context: { library: 'sdk', app: 'mine' }, integrations: { All: true } },
    ]);
  });

  it('gives a single call its type from the path when the body has none, and keeps a given type', () => {
    expect(normaliseTracking({ userId: 'u', timestamp: 't' }, 'identify', ARRIVAL).events).toEqual([{ userId: 'u', timestamp: 't', type: 'identify' }]);
    expect(normaliseTracking({ type: 'track', event: 'E', timestamp: 't' }, 'identify', ARRIVAL).events[0]).toMatchObject({ type: 'track' });
  });

  it('derives a timestamp for events without one', () => {
    const body = { batch: [{ type: 'track', event: 'E', originalTimestamp: '2026-11-28T10:00:00.000Z' }], sentAt: '2026-11-28T10:00:00.000Z' };

    expect(normaliseTracking(body, 'batch', ARRIVAL).events[0]).toMatchObject({ timestamp: '2026-11-28T12:00:00.000Z' });
  });

  it('derives no timestamp without a receivedAt (a route that does not correct skew)', () => {
    const body = { batch: [{ type: 'track', event: 'E', originalTimestamp: '2026-11-28T10:00:00.000Z' }], sentAt: '2026-11-28T10:00:05.000Z' };

    expect(normaliseTracking(body, 'batch', undefined).events).toEqual([
      { type: 'track', event: 'E', originalTimestamp: '2026-11-28T10:00:00.000Z' },
    ]);
    expect(normaliseTracking({ userId: 'u' }, 'identify', undefined).events).toEqual([{ userId: 'u', type: 'identify' }]);
  });

  it('refuses a batch route body without a batch array, and a single call that is not an object', () => {
    expect(() => normaliseTracking({ events: [] }, 'batch', ARRIVAL)).toThrow(expect.objectContaining({ statusCode: 400, code: 'invalid_body' }));
    expect(() => normaliseTracking([{ type: 'track' }], 'track', ARRIVAL)).toThrow(expect.objectContaining({ statusCode: 400 }));
  });

  it('passes non-object batch items through for validation to report', () => {
    expect(normaliseTracking({ batch: [42] }, 'batch', ARRIVAL).events).toEqual([42]);
  });
});

describe('basicWriteKey', () => {
  const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;

  it('reads the write key of "<key>:" (empty password)', () => {
    expect(basicWriteKey(basic('my-write-key:'))).toBe('my-write-key');
  });

  it('calls credentials without the colon, with a password, or with an empty user malformed (null)', () => {
    expect(basicWriteKey(basic('my-write-key'))).toBeNull();
    expect(basicWriteKey(basic('my-write-key:password'))).toBeNull();
    expect(basicWriteKey(basic(':'))).toBeNull();
    expect(basicWriteKey('Basic not*base64')).toBeNull();
  });

  it('is undefined for other schemes or no header', () => {
    expect(basicWriteKey('Bearer abc')).toBeUndefined();
    expect(basicWriteKey(undefined)).toBeUndefined();
  });
});

describe('readJsonBody with gzip', () => {
  it('inflates a gzip body, base64-encoded as API Gateway passes binary bodies', () => {
    const body = gzipSync(Buffer.from('{"batch":[]}')).toString('base64');

    expect(readJsonBody(body, true, 'gzip')).toEqual({ batch: [] });
  });

  it('stops a compression bomb at the limit with a 413', () => {
    const bomb = gzipSync(Buffer.alloc(20 * 1024 * 1024, 0x20)).toString('base64');
    const before = process.memoryUsage().rss;

    expect(() => readJsonBody(bomb, true, 'gzip')).toThrow(expect.objectContaining({ statusCode: 413 }));
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('accepts exactly the limit once inflated', () => {
    const json = `"${'a'.repeat(MAX_BODY_BYTES - 2)}"`;

    expect(readJsonBody(gzipSync(Buffer.from(json)).toString('base64'), true, 'gzip')).toHaveLength(MAX_BODY_BYTES - 2);
  });

  it('answers 400 to a body that is not gzip, and to an unsupported encoding', () => {
    expect(() => readJsonBody(b64('{"a":1}'), true, 'gzip')).toThrow(expect.objectContaining({ statusCode: 400, code: 'malformed_gzip' }));
    expect(() => readJsonBody('{"a":1}', false, 'br')).toThrow(expect.objectContaining({ statusCode: 400, code: 'unsupported_encoding' }));
  });

  it('reads JSON whatever the content type, and a plain body with identity encoding', () => {
    expect(readJsonBody('{"a":1}', false, 'identity')).toEqual({ a: 1 });
  });
});
