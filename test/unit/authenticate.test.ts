import { describe, expect, it } from 'vitest';
import { bearerToken, matchesSecret } from '../../src/http/authenticate.ts';

const SECRET = 'S3cret-Token-abc';

describe('matchesSecret', () => {
  it('accepts the exact secret', () => {
    // Act
    const matched = matchesSecret(SECRET, [SECRET]);
    // Assess
    expect(matched).toBe(true);
  });

  it.each([
    ['a prefix of it', SECRET.slice(0, -1)],
    ['it with a suffix', `${SECRET}x`],
    ['the empty string', ''],
    ['it in another case', SECRET.toLowerCase()],
    ['it in upper case', SECRET.toUpperCase()],
    ['it with surrounding space', ` ${SECRET} `],
    ['something else of the same length', 'X'.repeat(SECRET.length)],
  ])('rejects %s', (_label, presented) => {
    // Act
    const matched = matchesSecret(presented, [SECRET]);
    // Assess
    expect(matched).toBe(false);
  });

  it.each([
    ['the first', 'old-secret'],
    ['the middle', 'new-secret'],
    ['the last', 'next-secret'],
  ])('accepts %s of several active secrets', (_label, presented) => {
    // Act
    const matched = matchesSecret(presented, ['old-secret', 'new-secret', 'next-secret']);
    // Assess
    expect(matched).toBe(true);
  });

  it('rejects a value that matches none of several secrets', () => {
    // Act
    const matched = matchesSecret('other-secret', ['old-secret', 'new-secret']);
    // Assess
    expect(matched).toBe(false);
  });

  it('rejects everything when no secret is configured', () => {
    // Act
    const matched = matchesSecret('', []);
    // Assess
    expect(matched).toBe(false);
  });
});

describe('bearerToken', () => {
  it.each([
    ['Bearer abc123', 'abc123'],
    ['bearer abc123', 'abc123'],
    ['BEARER abc123', 'abc123'],
    ['Bearer    abc123', 'abc123'],
    ['  Bearer abc123  ', 'abc123'],
    ['Bearer\tabc123', 'abc123'],
    ['Bearer a.b-c_d=', 'a.b-c_d='],
  ])('reads the token of %j', (header, token) => {
    // Act
    const actual = bearerToken(header);
    // Assess
    expect(actual).toBe(token);
  });

  it.each([
    ['a Basic credential', 'Basic dXNlcjpwYXNz'],
    ['a missing header', undefined],
    ['an empty header', ''],
    ['the scheme alone', 'Bearer'],
    ['the scheme and spaces', 'Bearer   '],
    ['a token without scheme', 'abc123'],
    ['the scheme glued to the token', 'Bearerabc123'],
    ['two tokens', 'Bearer abc 123'],
  ])('finds no token in %s', (_label, header) => {
    // Act
    const actual = bearerToken(header);
    // Assess
    expect(actual).toBeUndefined();
  });
});
