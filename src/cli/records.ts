import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { JsonArrayScanner } from './json-array.ts';

/**
 * Reading an export file as a stream of records: JSON Lines (one event per line) or one JSON
 * array of events. Memory stays bounded by one chunk plus one record, whatever the file's size.
 * Every record carries its byte range and line, so a checkpoint can resume right after it and a
 * failed record can be read again on its own.
 */

export type InputFormat = 'jsonl' | 'json-array';

/** Where reading starts: a record index, its byte offset and line. */
export interface Position {
  /** Index of the next record (0-based, in file order; blank lines are not records). */
  index: number;
  offset: number;
  line: number;
}

export const START: Position = Object.freeze({ index: 0, offset: 0, line: 1 });

export interface RawRecord {
  index: number;
  /** 1-based line where the record starts. */
  line: number;
  /** Byte range of the record's own text. */
  start: number;
  end: number;
  /** Where reading continues after this record. */
  next: Position;
  /** The record's text; undefined when it exceeds the size limit. */
  text: string | undefined;
}

/** Largest record read into memory; a larger one is reported as a bad record. */
export const DEFAULT_MAX_RECORD_BYTES = 8 * 1024 * 1024;

export const CHUNK_BYTES = 64 * 1024;

/**
 * The format from the beginning of the (decompressed) content: JSON Lines unless the first
 * non-blank character is `[`; undefined while `head` holds nothing but blanks.
 */
export function formatOfHead(head: Buffer): InputFormat | undefined {
  const text = head.toString('latin1').replace(/^\xef\xbb\xbf/, '');
  const first = /\S/.exec(text);
  if (!first) return undefined;
  return first[0] === '[' ? 'json-array' : 'jsonl';
}

/** JSON Lines unless the first non-blank character is `[`. */
export async function detectFormat(path: string): Promise<InputFormat> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(4096);
    for (let position = 0; ; ) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) return 'jsonl';
      const format = formatOfHead(buffer.subarray(0, bytesRead));
      if (format) return format;
      position += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

/** Reads one record's text again from its byte range (a failed record retried on a rerun). */
export async function readRange(path: string, start: number, end: number): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(end - start);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
    // The same text the first reading produced: no line ending, and no byte-order mark on the
    // file's first record.
    return stripLine(buffer.subarray(0, bytesRead).toString('utf8'), start === 0);
  } finally {
    await handle.close();
  }
}

export interface ReadOptions {
  format: InputFormat;
  from?: Position;
  maxRecordBytes?: number;
  /** False: only count records, keep no text (fast, for the progress total). */
  collect?: boolean;
  signal?: AbortSignal;
}

/**
 * Splits content into records. `chunks` is the (decompressed) content from `options.from.offset`
 * on: a local file read from there, or an object's stream that skipped that many bytes.
 *
 * @throws JsonArrayError when a JSON array's structure is broken (after yielding what came before).
 */
export async function* splitRecords(chunks: AsyncIterable<Buffer>, options: ReadOptions): AsyncGenerator<RawRecord> {
  const from = options.from ?? START;
  const max = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const collect = options.collect ?? true;
  const split = options.format === 'jsonl' ? jsonLines(from, max, collect) : jsonArray(from, max, collect);
  for await (const chunk of chunks) {
    if (options.signal?.aborted) return;
    yield* split.push(chunk);
  }
  yield* split.end();
}

/**
 * Streams the records of a plain local file from `from` on.
 *
 * @throws JsonArrayError when a JSON array's structure is broken (after yielding what came before).
 */
export async function* readRecords(path: string, options: ReadOptions): AsyncGenerator<RawRecord> {
  const stream = createReadStream(path, { start: (options.from ?? START).offset, highWaterMark: CHUNK_BYTES });
  try {
    yield* splitRecords(stream as AsyncIterable<Buffer>, options);
  } finally {
    stream.destroy();
  }
}

interface Splitter {
  push(chunk: Buffer): RawRecord[];
  end(): RawRecord[];
}

const BOM = '\ufeff';

/** JSON Lines: `\n` or `\r\n`; blank lines are skipped (but counted as lines). */
function jsonLines(from: Position, max: number, collect: boolean): Splitter {
  let index = from.index;
  let line = from.line;
  let offset = from.offset; // absolute offset of the next chunk
  let lineStart = from.offset;
  let parts: Buffer[] = [];
  let size = 0;
  let blank = true;

  const keep = (chunk: Buffer, start: number, end: number): void => {
    if (end <= start) return;
    if (blank) {
      for (let i = start; i < end; i += 1) {
        const byte = chunk[i] as number;
        if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d) {
          blank = false;
          break;
        }
      }
    }
    size += end - start;
    if (collect && size <= max) parts.push(chunk.subarray(start, end));
  };

  const finish = (end: number, next: number): RawRecord | undefined => {
    const record = blank
      ? undefined
      : {
          index,
          line,
          start: lineStart,
          end,
          next: { index: index + 1, offset: next, line: line + 1 },
          text: collect && size <= max ? stripLine(Buffer.concat(parts).toString('utf8'), lineStart === 0) : undefined,
        };
    if (record) index += 1;
    line += 1;
    lineStart = next;
    parts = [];
    size = 0;
    blank = true;
    return record;
  };

  return {
    push(chunk) {
      const records: RawRecord[] = [];
      let start = 0;
      for (let newline = chunk.indexOf(0x0a, start); newline !== -1; newline = chunk.indexOf(0x0a, start)) {
        keep(chunk, start, newline);
        const record = finish(offset + newline, offset + newline + 1);
        if (record) records.push(record);
        start = newline + 1;
      }
      keep(chunk, start, chunk.length);
      offset += chunk.length;
      return records;
    },
    end() {
      const record = finish(offset, offset);
      return record ? [record] : [];
    },
  };
}

/** A line's text without its `\r` and, on the first line, the byte order mark. */
export function stripLine(text: string, first: boolean): string {
  const withoutCr = text.endsWith('\r') ? text.slice(0, -1) : text;
  return first && withoutCr.startsWith(BOM) ? withoutCr.slice(1) : withoutCr;
}

/** One JSON array; a resumed scan starts right after the last element done. */
function jsonArray(from: Position, max: number, collect: boolean): Splitter {
  const scanner = new JsonArrayScanner({
    maxElementBytes: max,
    collect,
    start: from.offset === 0 ? { at: 'start' } : { at: 'after-element', offset: from.offset, line: from.line },
  });
  let index = from.index;
  return {
    push(chunk) {
      return scanner.push(chunk).map((element) => {
        const record: RawRecord = {
          index,
          line: element.line,
          start: element.start,
          end: element.end,
          next: { index: index + 1, offset: element.end, line: element.endLine },
          text: element.text,
        };
        index += 1;
        return record;
      });
    },
    end() {
      scanner.end();
      return [];
    },
  };
}

/** Counts the records of a file (for the progress total); undefined if it cannot be read. */
export async function countRecords(path: string, format: InputFormat, signal?: AbortSignal): Promise<number | undefined> {
  let count = 0;
  try {
    for await (const _record of readRecords(path, { format, collect: false, ...(signal ? { signal } : {}) })) count += 1;
  } catch {
    return undefined;
  }
  return signal?.aborted ? undefined : count;
}
