import { describe, expect, it } from 'vitest';
import { PayloadTooLargeError, ValidationError } from '../../src/errors.ts';
import { MAX_BODY_BYTES, MAX_EVENTS, decodeEvents } from '../../src/http/decode.ts';

const KIB_512 = 512 * 1024;

/** A raw event; `overrides` spread over it. */
const makeRawEvent = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: 'track',
  event: 'Report Exported',
  userId: 'user-1',
  ...overrides,
});

/**
 * One JSON event whose UTF-8 encoding is exactly `bytes` long, padded with `filler`
 * (whose UTF-8 length must divide the padding needed).
 */
const bodyOfBytes = (bytes: number, filler = 'x'): string => {
  const empty = JSON.stringify(makeRawEvent({ pad: '' }));
  const needed = bytes - Buffer.byteLength(empty, 'utf8');
  const fillerBytes = Buffer.byteLength(filler, 'utf8');
  if (needed < 0 || needed % fillerBytes !== 0) throw new Error(`cannot pad to ${bytes} bytes with ${filler}`);
  const body = JSON.stringify(makeRawEvent({ pad: filler.repeat(needed / fillerBytes) }));
  expect(Buffer.byteLength(body, 'utf8')).toBe(bytes);
  return body;
};

const base64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

/** Runs decodeEvents and returns the error it must throw. */
const errorOf = (body: string | undefined, isBase64Encoded = false): unknown => {
  try {
    decodeEvents(body, isBase64Encoded);
  } catch (error) {
    return error;
  }
  throw new Error('expected decodeEvents to throw');
};

describe('decodeEvents: shapes', () => {
  it('wraps a single event object in a list', () => {
    // Prepare
    const event = makeRawEvent();
    // Act
    const events = decodeEvents(JSON.stringify(event), false);
    // Assess
    expect(events).toEqual([event]);
  });

  it('returns a JSON array of events as is', () => {
    // Prepare
    const list = [makeRawEvent({ messageId: 'm-1' }), makeRawEvent({ messageId: 'm-2', type: 'identify' })];
    // Act
    const events = decodeEvents(JSON.stringify(list), false);
    // Assess
    expect(events).toEqual(list);
  });

  it('unwraps the RudderStack {"batch": [...]} shape', () => {
    // Prepare
    const list = [makeRawEvent({ messageId: 'm-1' }), makeRawEvent({ messageId: 'm-2' })];
    // Act
    const events = decodeEvents(JSON.stringify({ batch: list, sentAt: '2024-01-02T03:04:05.678Z' }), false);
    // Assess
    expect(events).toEqual(list);
  });

  it('decodes a base64 body', () => {
    // Prepare
    const list = [makeRawEvent({ traits: { city: 'Zürich' } })];
    // Act
    const events = decodeEvents(base64(JSON.stringify(list)), true);
    // Assess
    expect(events).toEqual(list);
  });

  it('does not base64-decode a body that is not flagged as base64', () => {
    // Act
    const error = errorOf(base64(JSON.stringify(makeRawEvent())), false);
    // Assess
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).code).toBe('malformed_json');
  });
});

describe('decodeEvents: limits', () => {
  it('sets the limits at 512 KiB and 100 events', () => {
    // Assess
    expect(MAX_BODY_BYTES).toBe(KIB_512);
    expect(MAX_EVENTS).toBe(100);
  });

  it('accepts a body of exactly 512 KiB', () => {
    // Act
    const events = decodeEvents(bodyOfBytes(KIB_512), false);
    // Assess
    expect(events).toHaveLength(1);
  });

  it('refuses a body one byte over 512 KiB with a 413', () => {
    // Act
    const error = errorOf(bodyOfBytes(KIB_512 + 1), false);
    // Assess
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect((error as PayloadTooLargeError).statusCode).toBe(413);
  });

  it('counts multi-byte UTF-8 characters in bytes, not characters', () => {
    // Prepare: 'é' is two bytes, so the body has far fewer characters than bytes
    const emptyBytes = Buffer.byteLength(JSON.stringify(makeRawEvent({ pad: '' })), 'utf8');
    const body = bodyOfBytes((KIB_512 - emptyBytes) % 2 === 0 ? KIB_512 + 2 : KIB_512 + 1, 'é');
    expect(body.length).toBeLessThan(KIB_512);
    // Act
    const error = errorOf(body, false);
    // Assess
    expect(error).toBeInstanceOf(PayloadTooLargeError);
  });

  it('accepts a multi-byte body of exactly 512 KiB', () => {
    // Prepare: 4-byte emoji padding, then ASCII to land exactly on the limit
    const prefix = JSON.stringify(makeRawEvent({ pad: '' }));
    const emojiCount = Math.floor((KIB_512 - Buffer.byteLength(prefix)) / 4);
    const rest = KIB_512 - Buffer.byteLength(prefix) - emojiCount * 4;
    const body = JSON.stringify(makeRawEvent({ pad: '😀'.repeat(emojiCount) + 'x'.repeat(rest) }));
    expect(Buffer.byteLength(body, 'utf8')).toBe(KIB_512);
    // Act
    const events = decodeEvents(body, false);
    // Assess
    expect(events).toHaveLength(1);
  });

  it('accepts a base64 body that decodes to exactly 512 KiB', () => {
    // Act
    const events = decodeEvents(base64(bodyOfBytes(KIB_512)), true);
    // Assess
    expect(events).toHaveLength(1);
  });

  it('refuses a base64 body that decodes to one byte over 512 KiB', () => {
    // Act
    const error = errorOf(base64(bodyOfBytes(KIB_512 + 1)), true);
    // Assess
    expect(error).toBeInstanceOf(PayloadTooLargeError);
  });

  it('refuses a huge base64 body', () => {
    // Act
    const error = errorOf('A'.repeat(4 * KIB_512), true);
    // Assess
    expect(error).toBeInstanceOf(PayloadTooLargeError);
  });

  it.each([
    ['an array', (list: unknown[]) => list],
    ['a batch', (list: unknown[]) => ({ batch: list })],
  ])('accepts exactly 100 events in %s', (_label, wrap) => {
    // Prepare
    const list = Array.from({ length: 100 }, (_, index) => makeRawEvent({ messageId: `m-${index}` }));
    // Act
    const events = decodeEvents(JSON.stringify(wrap(list)), false);
    // Assess
    expect(events).toHaveLength(100);
  });

  it.each([
    ['an array', (list: unknown[]) => list],
    ['a batch', (list: unknown[]) => ({ batch: list })],
  ])('refuses 101 events in %s with a 413', (_label, wrap) => {
    // Prepare
    const list = Array.from({ length: 101 }, (_, index) => makeRawEvent({ messageId: `m-${index}` }));
    // Act
    const error = errorOf(JSON.stringify(wrap(list)), false);
    // Assess
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect((error as PayloadTooLargeError).statusCode).toBe(413);
  });
});

describe('decodeEvents: malformed bodies', () => {
  it.each([
    ['a missing body', undefined, 'empty_body'],
    ['an empty body', '', 'empty_body'],
    ['text that is not JSON', '{"type": "track",', 'malformed_json'],
    ['an empty array', '[]', 'empty_batch'],
    ['an empty batch', '{"batch": []}', 'empty_batch'],
    ['a JSON string', '"identify"', 'invalid_body'],
    ['a JSON number', '42', 'invalid_body'],
    ['JSON null', 'null', 'invalid_body'],
    ['a batch that is not a list', '{"batch": "events"}', 'invalid_body'],
  ])('refuses %s with a 400 %s', (_label, body, code) => {
    // Act
    const error = errorOf(body, false);
    // Assess
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).statusCode).toBe(400);
    expect((error as ValidationError).code).toBe(code);
  });

  it('refuses base64 that does not decode to JSON as malformed_json', () => {
    // Act
    const error = errorOf(base64('not json at all'), true);
    // Assess
    expect((error as ValidationError).code).toBe('malformed_json');
  });

  it('never quotes the body in the error message', () => {
    // Act
    const error = errorOf('{"email": "person@example.com", broken', false) as ValidationError;
    // Assess
    expect(error.message).not.toContain('person@example.com');
  });
});
