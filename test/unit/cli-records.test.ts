import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JsonArrayError, JsonArrayScanner, type ScannedElement } from '../../src/cli/json-array.ts';
import { type RawRecord, countRecords, detectFormat, readRange, readRecords } from '../../src/cli/records.ts';
import { tempDir } from '../support/cli.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** Feeds `text` to a scanner in chunks of `size` bytes and collects the elements. */
function scan(text: string, size = 7, maxElementBytes = 1 << 20): ScannedElement[] {
  const bytes = Buffer.from(text, 'utf8');
  const scanner = new JsonArrayScanner({ maxElementBytes });
  const elements: ScannedElement[] = [];
  for (let at = 0; at < bytes.length; at += size) elements.push(...scanner.push(bytes.subarray(at, at + size)));
  scanner.end();
  return elements;
}

async function collect(path: string, options: Parameters<typeof readRecords>[1]): Promise<RawRecord[]> {
  const records: RawRecord[] = [];
  for await (const record of readRecords(path, options)) records.push(record);
  return records;
}

describe('the JSON array scanner', () => {
  it('finds every element, whatever the chunk boundaries', () => {
    const events = [{ type: 'track', event: 'a' }, { type: 'identify', traits: { x: [1, { y: 2 }] } }, 42, 'text', null, true];
    const text = JSON.stringify(events, null, 2);
    for (const size of [1, 2, 3, 5, 64, 100_000]) {
      expect(scan(text, size).map((element) => JSON.parse(element.text as string))).toEqual(events);
    }
  });

  it('is not fooled by brackets, braces, quotes and escapes inside strings', () => {
    const tricky = [
      { s: '] } [ { ,' },
      { s: 'quote " and backslash \\' },
      { s: '\\"]' },
      { s: 'ends with backslash \\\\' },
      { 'key ]': 'unicode é 😀 \u2028' },
      '"]',
    ];
    const text = JSON.stringify(tricky);
    for (const size of [1, 3, 1000]) expect(scan(text, size).map((e) => JSON.parse(e.text as string))).toEqual(tricky);
  });

  it('reports byte ranges and the line each element starts on', () => {
    const text = '[\n  {"a":1},\n  {"b":\n   2}\n]';
    const [first, second] = scan(text, 4);
    expect(first).toMatchObject({ line: 2, endLine: 2, text: '{"a":1}' });
    expect(second).toMatchObject({ line: 3, endLine: 4 });
    expect(Buffer.from(text).subarray(second!.start, second!.end).toString()).toBe('{"b":\n   2}');
  });

  it('accepts an empty array and a byte order mark', () => {
    expect(scan('[]')).toEqual([]);
    expect(scan('\ufeff[ {"a":1} ]').map((e) => e.text)).toEqual(['{"a":1}']);
  });

  it('hands an element that is not valid JSON back as text, for JSON.parse to reject', () => {
    const elements = scan('[{a:1}, {"b":2}]');
    expect(elements.map((e) => e.text)).toEqual(['{a:1}', '{"b":2}']);
  });

  it('drops the text of an element over the size limit but keeps scanning', () => {
    const elements = scan(`[{"big":"${'x'.repeat(500)}"},{"ok":1}]`, 16, 100);
    expect(elements[0]).toMatchObject({ tooLarge: true, text: undefined });
    expect(elements[1]).toMatchObject({ tooLarge: false, text: '{"ok":1}' });
  });

  it.each([
    ['{"not":"an array"}', /line 1, column 1: expected '\[' but found '\{'/],
    ['[{"a":1}}', /line 1, column 9: expected ',' or '\]' after an element but found '\}'/],
    ['[{"a":[1,2}]', /line 1, column 11: expected '\]' but found '\}'/],
    ['[\n{"a":1},\n]', /line 3, column 1: expected an element after ',' but found '\]'/],
    ['[{"a":1}] trailing', /line 1, column 11: unexpected 't' after the closing '\]'/],
    ['[{"a":1},\n {"b":"unterminated', /ends inside the element that starts at line 2/],
    ['[{"a":1}', /ends before the closing '\]'/],
    ['', /the file has no JSON array/],
  ])('names the line and column of a malformed array: %j', (text, message) => {
    expect(() => scan(text, 3)).toThrow(JsonArrayError);
    expect(() => scan(text, 3)).toThrow(message);
  });

  it('resumes right after an element', () => {
    const text = '[{"a":1},\n{"b":2},{"c":3}]';
    const first = scan(text)[0]!;
    const scanner = new JsonArrayScanner({ maxElementBytes: 1000, start: { at: 'after-element', offset: first.end, line: first.endLine } });
    const rest = scanner.push(Buffer.from(text).subarray(first.end));
    scanner.end();
    expect(rest.map((e) => [e.text, e.line])).toEqual([['{"b":2}', 2], ['{"c":3}', 2]]);
  });
});

describe('reading records from a file', () => {
  it('reads JSON Lines with CRLF, blank lines, a byte order mark and no final newline', async () => {
    const path = join(tmp.dir, 'lines.jsonl');
    writeFileSync(path, '\ufeff{"a":1}\r\n\n   \n{"b":2}\nnot json\n{"c":3}');
    const records = await collect(path, { format: 'jsonl' });
    expect(records.map((r) => [r.index, r.line, r.text])).toEqual([
      [0, 1, '{"a":1}'],
      [1, 4, '{"b":2}'],
      [2, 5, 'not json'],
      [3, 6, '{"c":3}'],
    ]);
    expect(await readRange(path, records[1]!.start, records[1]!.end)).toBe('{"b":2}');
    // A retried first record reads back as the first reading saw it: no byte order mark, no \r.
    expect(await readRange(path, records[0]!.start, records[0]!.end)).toBe('{"a":1}');
    const resumed = await collect(path, { format: 'jsonl', from: records[1]!.next });
    expect(resumed.map((r) => [r.index, r.line, r.text])).toEqual([
      [2, 5, 'not json'],
      [3, 6, '{"c":3}'],
    ]);
  });

  it('detects the format from the first non-blank character', async () => {
    const array = join(tmp.dir, 'detect.json');
    writeFileSync(array, '\n  [ {"a":1} ]');
    const lines = join(tmp.dir, 'detect.jsonl');
    writeFileSync(lines, '{"a":1}\n');
    expect(await detectFormat(array)).toBe('json-array');
    expect(await detectFormat(lines)).toBe('jsonl');
  });

  it('streams a huge JSON array in bounded memory and resumes from a byte offset', async () => {
    const path = join(tmp.dir, 'huge.json');
    const count = 200_000;
    const element = (i: number) => `{"type":"track","userId":"u${i}","event":"E ]\\"[ ${i}"}`;
    writeFileSync(path, `[${Array.from({ length: count }, (_, i) => element(i)).join(',\n')}]`);
    let seen = 0;
    let last: RawRecord | undefined;
    const before = process.memoryUsage().heapUsed;
    for await (const record of readRecords(path, { format: 'json-array' })) {
      if (record.index === 1000) last = record;
      seen += 1;
    }
    expect(seen).toBe(count);
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 * 1024 * 1024);
    expect(await countRecords(path, 'json-array')).toBe(count);
    const resumed = readRecords(path, { format: 'json-array', from: last!.next });
    const next = (await resumed.next()).value as RawRecord;
    await resumed.return(undefined);
    expect(next).toMatchObject({ index: 1001, line: 1002 });
    expect(JSON.parse(next.text as string).event).toBe('E ]"[ 1001');
  });

  it('yields the records before a malformed part, then throws naming its line', async () => {
    const path = join(tmp.dir, 'broken.json');
    writeFileSync(path, '[\n{"a":1},\n{"b":2}\n{"c":3}]');
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const record of readRecords(path, { format: 'json-array' })) seen.push(record.text as string);
      })(),
    ).rejects.toThrow(/line 4, column 1: expected ',' or '\]'/);
    expect(seen).toEqual(['{"a":1}', '{"b":2}']);
  });
});
