/**
 * A streaming scanner for one top-level JSON array: it is fed the file chunk by chunk and hands
 * back each element's raw text with its byte range and line, holding at most one element (and
 * one chunk) in memory. It only finds element boundaries — strings, escapes, nesting — and leaves
 * parsing each element to `JSON.parse`, so an element that is not valid JSON (`{a:1}`) is one bad
 * record, while a broken structure (a bracket that does not match, text after the closing `]`, the
 * end of the file inside the array) is a {@link JsonArrayError} naming the line and column.
 *
 * It works on bytes: every structural character is ASCII, and no byte of a multi-byte UTF-8
 * character is below 0x80, so byte offsets are exact and a checkpoint can seek to them.
 */

/** Where the scan starts: the file's beginning, or right after an element (a resumed run). */
export type ArrayScanStart =
  | { at: 'start' }
  | { at: 'after-element'; offset: number; line: number };

export interface ScannedElement {
  /** Byte offset of the element's first byte. */
  start: number;
  /** Byte offset just past its last byte. */
  end: number;
  /** 1-based line of its first byte. */
  line: number;
  /** 1-based line of its last byte: a resumed scan starts there. */
  endLine: number;
  /** The raw text, or undefined when it is larger than the limit (or when not collecting). */
  text: string | undefined;
  /** True when the element exceeded `maxElementBytes` (its text was dropped). */
  tooLarge: boolean;
}

/** The array itself is malformed: the scan cannot go on. */
export class JsonArrayError extends Error {
  constructor(
    message: string,
    readonly offset: number,
    readonly line: number,
    readonly column: number,
  ) {
    super(`Malformed JSON array at line ${line}, column ${column}: ${message}`);
    this.name = 'JsonArrayError';
  }
}

export interface JsonArrayScannerOptions {
  /** Elements larger than this are reported as too large instead of being buffered. */
  maxElementBytes: number;
  /** False: find boundaries only, keep no text (counting). */
  collect?: boolean;
  start?: ArrayScanStart;
}

const enum State {
  BeforeArray,
  FirstElementOrEnd,
  BeforeElement,
  InElement,
  AfterElement,
  Done,
}

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const NEWLINE = 0x0a;

const isWhitespace = (byte: number): boolean => byte === 0x20 || byte === NEWLINE || byte === 0x0d || byte === 0x09;

const describe = (byte: number): string =>
  byte >= 0x20 && byte < 0x7f ? `'${String.fromCharCode(byte)}'` : `byte 0x${byte.toString(16).padStart(2, '0')}`;

export class JsonArrayScanner {
  readonly #max: number;
  readonly #collect: boolean;
  #state: State;
  /** Absolute offset of the first byte of the next chunk. */
  #offset: number;
  #line: number;
  /** Absolute offset of the current line's first byte (for columns in errors). */
  #lineStart: number;
  /** Closing brackets the current element still expects, innermost last. */
  readonly #closers: number[] = [];
  #inString = false;
  #escaped = false;
  #scalar = false;
  #parts: Buffer[] = [];
  #size = 0;
  #tooLarge = false;
  #elementStart = 0;
  #elementLine = 0;
  #failure: JsonArrayError | undefined;

  constructor(options: JsonArrayScannerOptions) {
    this.#max = options.maxElementBytes;
    this.#collect = options.collect ?? true;
    const start = options.start ?? { at: 'start' };
    if (start.at === 'start') {
      this.#state = State.BeforeArray;
      this.#offset = 0;
      this.#line = 1;
    } else {
      this.#state = State.AfterElement;
      this.#offset = start.offset;
      this.#line = start.line;
    }
    this.#lineStart = this.#offset;
  }

  /** True once the closing `]` has been seen. */
  get done(): boolean {
    return this.#state === State.Done;
  }

  #error(message: string, offset: number): JsonArrayError {
    return new JsonArrayError(message, offset, this.#line, offset - this.#lineStart + 1);
  }

  #keep(chunk: Buffer, from: number, to: number): void {
    if (to <= from) return;
    this.#size += to - from;
    if (this.#tooLarge || !this.#collect) return;
    if (this.#size > this.#max) {
      this.#tooLarge = true;
      this.#parts = [];
      return;
    }
    this.#parts.push(chunk.subarray(from, to));
  }

  #finish(chunk: Buffer, segmentStart: number, endIndex: number): ScannedElement {
    this.#keep(chunk, segmentStart, endIndex);
    const tooLarge = this.#tooLarge || this.#size > this.#max;
    const text = this.#collect && !tooLarge ? Buffer.concat(this.#parts).toString('utf8') : undefined;
    const element: ScannedElement = {
      start: this.#elementStart,
      end: this.#offset + endIndex,
      line: this.#elementLine,
      endLine: this.#line,
      text,
      tooLarge,
    };
    this.#parts = [];
    this.#size = 0;
    this.#tooLarge = false;
    this.#scalar = false;
    this.#state = State.AfterElement;
    return element;
  }

  /**
   * Scans the next chunk of the file and returns the elements it completed. When the chunk
   * breaks the array's structure, the elements before the fault are returned and the error is
   * thrown by the next call (`push` or `end`).
   *
   * @throws JsonArrayError when an earlier chunk broke the array's structure.
   */
  push(chunk: Buffer): ScannedElement[] {
    if (this.#failure) throw this.#failure;
    const elements: ScannedElement[] = [];
    try {
      this.#scan(chunk, elements);
    } catch (error) {
      if (!(error instanceof JsonArrayError)) throw error;
      // The elements before the fault are handed out first; the error comes with the next call.
      this.#failure = error;
    }
    return elements;
  }

  #scan(chunk: Buffer, elements: ScannedElement[]): void {
    let segmentStart = 0;
    for (let i = 0; i < chunk.length; i += 1) {
      const byte = chunk[i] as number;
      switch (this.#state) {
        case State.BeforeArray:
          if (isWhitespace(byte)) break;
          // A UTF-8 byte order mark at the very start of the file.
          if (this.#offset + i <= 2 && (byte === 0xef || byte === 0xbb || byte === 0xbf)) break;
          if (byte !== OPEN_BRACKET) throw this.#error(`expected '[' but found ${describe(byte)}`, this.#offset + i);
          this.#state = State.FirstElementOrEnd;
          break;
        case State.FirstElementOrEnd:
        case State.BeforeElement:
          if (isWhitespace(byte)) break;
          if (byte === CLOSE_BRACKET) {
            if (this.#state === State.BeforeElement) throw this.#error("expected an element after ',' but found ']'", this.#offset + i);
            this.#state = State.Done;
            break;
          }
          if (byte === COMMA || byte === CLOSE_BRACE) throw this.#error(`expected an element but found ${describe(byte)}`, this.#offset + i);
          this.#state = State.InElement;
          this.#elementStart = this.#offset + i;
          this.#elementLine = this.#line;
          segmentStart = i;
          if (byte === OPEN_BRACE) this.#closers.push(CLOSE_BRACE);
          else if (byte === OPEN_BRACKET) this.#closers.push(CLOSE_BRACKET);
          else if (byte === QUOTE) this.#inString = true;
          else this.#scalar = true;
          break;
        case State.InElement:
          if (this.#inString) {
            if (this.#escaped) this.#escaped = false;
            else if (byte === BACKSLASH) this.#escaped = true;
            else if (byte === QUOTE) {
              this.#inString = false;
              if (this.#closers.length === 0) elements.push(this.#finish(chunk, segmentStart, i + 1));
            }
          } else if (this.#scalar) {
            if (isWhitespace(byte) || byte === COMMA || byte === CLOSE_BRACKET) {
              elements.push(this.#finish(chunk, segmentStart, i));
              i -= 1; // the separator belongs to the array: scan it again after the element
              continue;
            }
          } else if (byte === QUOTE) this.#inString = true;
          else if (byte === OPEN_BRACE) this.#closers.push(CLOSE_BRACE);
          else if (byte === OPEN_BRACKET) this.#closers.push(CLOSE_BRACKET);
          else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
            const expected = this.#closers.pop();
            if (expected !== byte) {
              throw this.#error(`expected ${describe(expected ?? CLOSE_BRACKET)} but found ${describe(byte)}`, this.#offset + i);
            }
            if (this.#closers.length === 0) elements.push(this.#finish(chunk, segmentStart, i + 1));
          }
          break;
        case State.AfterElement:
          if (isWhitespace(byte)) break;
          if (byte === COMMA) this.#state = State.BeforeElement;
          else if (byte === CLOSE_BRACKET) this.#state = State.Done;
          else throw this.#error(`expected ',' or ']' after an element but found ${describe(byte)}`, this.#offset + i);
          break;
        case State.Done:
          if (!isWhitespace(byte)) throw this.#error(`unexpected ${describe(byte)} after the closing ']'`, this.#offset + i);
          break;
      }
      if (byte === NEWLINE) {
        this.#line += 1;
        this.#lineStart = this.#offset + i + 1;
      }
    }
    if (this.#state === State.InElement) this.#keep(chunk, segmentStart, chunk.length);
    this.#offset += chunk.length;
  }

  /**
   * Ends the scan at the end of the file.
   *
   * @throws JsonArrayError when the array is not closed.
   */
  end(): void {
    if (this.#failure) throw this.#failure;
    if (this.#state === State.Done) return;
    const where =
      this.#state === State.BeforeArray
        ? 'the file has no JSON array'
        : this.#state === State.InElement
          ? `the file ends inside the element that starts at line ${this.#elementLine}`
          : "the file ends before the closing ']'";
    throw this.#error(where, this.#offset);
  }
}
