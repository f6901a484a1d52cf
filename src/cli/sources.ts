import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { CHUNK_BYTES, type InputFormat, formatOfHead, splitRecords, stripLine } from './records.ts';
import { type S3Reader, parseS3Url } from './s3.ts';

/**
 * What `replay` reads: local files, directories (walked recursively, in name order), and
 * `s3://bucket/prefix` listings, each object gzipped or not (known by its first two bytes, not
 * its name) and holding JSON Lines or one JSON array. An object is always streamed: a gzipped
 * one through gunzip, never loaded whole. Positions inside an object count bytes of its
 * decompressed content, so a checkpoint resumes the same way in a plain or a gzipped object: a
 * plain one is read from that byte (a ranged GET on S3), a gzipped one is inflated from its start
 * and the bytes before the position are skipped.
 */

export interface InputObject {
  /** The absolute path, or `s3://bucket/key`: how the object is named and checkpointed. */
  readonly id: string;
  /** Stored size in bytes (compressed, for a gzipped object). */
  readonly size: number;
  /** The content's identity: the S3 ETag, or the SHA-256 of a local file's bytes. */
  readonly etag: string;
  /** The local path, for a local file. */
  readonly path?: string;
  /** The stored bytes from `offset` on. */
  openRaw(offset: number): Promise<Readable>;
}

/** An input that cannot be used (missing, unreadable, not listable): nothing was sent. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/**
 * Files a directory walk leaves out: hidden ones, and what replay itself writes next to an
 * export (checkpoints, journals, locks, rejected events), which are not events to send.
 */
const NOT_AN_INPUT = /(^\.|\.checkpoint\.json$|\.journal$|\.lock$|\.rejected\.jsonl$|\.tmp$)/;

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/**
 * The files below `dir`, in name order. Symbolic links are followed (a linked file is read like
 * any other); a linked directory already on the way down is not entered twice.
 */
function walk(dir: string, seen: Set<string> = new Set([realpathSync(dir)])): string[] {
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return entries.flatMap((entry) => {
    if (NOT_AN_INPUT.test(entry.name)) return [];
    const path = join(dir, entry.name);
    let kind: 'file' | 'directory' | 'other' = entry.isDirectory() ? 'directory' : entry.isFile() ? 'file' : 'other';
    if (entry.isSymbolicLink()) {
      const target = statSync(path, { throwIfNoEntry: false });
      if (target === undefined) throw new InputError(`a symbolic link in the input points nowhere: ${path}`);
      kind = target.isDirectory() ? 'directory' : target.isFile() ? 'file' : 'other';
    }
    if (kind === 'directory') {
      const real = realpathSync(path);
      if (seen.has(real)) return [];
      return walk(path, new Set([...seen, real]));
    }
    return kind === 'file' ? [path] : [];
  });
}

async function localObject(path: string): Promise<InputObject> {
  return {
    id: path,
    path,
    size: statSync(path).size,
    etag: await sha256Of(path),
    openRaw: async (offset) => createReadStream(path, { start: offset, highWaterMark: CHUNK_BYTES }),
  };
}

export interface ResolvedInputs {
  objects: InputObject[];
  /** Local files and directories named on the command line (absolute). */
  localRoots: { path: string; directory: boolean }[];
}

/**
 * Lists every object of the inputs, in order: each input in the order given, a directory's files
 * by name, an S3 prefix's keys as S3 lists them (by key). An object named twice is read once.
 *
 * @throws InputError for a missing or unreadable input, S3SourceError when S3 cannot be listed.
 */
export async function resolveInputs(specs: readonly string[], s3: () => Promise<S3Reader>): Promise<ResolvedInputs> {
  const objects = new Map<string, InputObject>();
  const localRoots: ResolvedInputs['localRoots'] = [];
  for (const spec of specs) {
    const location = parseS3Url(spec);
    if (location) {
      const reader = await s3();
      let found = 0;
      for await (const listed of reader.list(location)) {
        found += 1;
        const id = `s3://${location.bucket}/${listed.key}`;
        objects.set(id, {
          id,
          size: listed.size,
          etag: listed.etag,
          openRaw: async (offset) =>
            offset >= listed.size && offset > 0
              ? Readable.from([])
              : reader.get(location.bucket, listed.key, { etag: listed.etag, offset }),
        });
      }
      if (found === 0) throw new InputError(`no objects under ${spec}`);
      continue;
    }
    if (spec.startsWith('s3://')) throw new InputError(`not an S3 location: ${spec} (expected s3://bucket/prefix)`);
    const path = resolve(spec);
    let directory: boolean;
    try {
      const stat = statSync(path);
      if (!stat.isFile() && !stat.isDirectory()) throw new InputError(`not a file or directory: ${spec}`);
      directory = stat.isDirectory();
    } catch (error) {
      if (error instanceof InputError) throw error;
      throw new InputError(`no such file: ${spec}`);
    }
    localRoots.push({ path, directory });
    const files = directory ? walk(path) : [path];
    if (directory && files.length === 0) throw new InputError(`no files in ${spec}`);
    for (const file of files) if (!objects.has(file)) objects.set(file, await localObject(file));
  }
  return { objects: [...objects.values()], localRoots };
}

/** An object opened for reading: its decompressed content from a position on. */
export interface OpenedObject {
  format: InputFormat;
  gzip: boolean;
  /** The decompressed content from the requested offset on. */
  chunks: AsyncIterable<Buffer>;
  /** Stored bytes read so far (for progress). */
  readonly rawBytes: number;
  close(): void;
}

const GZIP_MAGIC = [0x1f, 0x8b];

/** Pulls chunks from an iterator until `enough` says the buffered head suffices (or the end). */
async function head(iterator: AsyncIterator<Buffer>, enough: (head: Buffer) => boolean): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for (;;) {
    if (chunks.length > 0 && enough(Buffer.concat(chunks))) return chunks;
    const next = await iterator.next();
    if (next.done) return chunks;
    chunks.push(next.value);
  }
}

async function* concat(first: Buffer[], rest: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  yield* first;
  for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
}

/** Drops the first `bytes` bytes of a stream of chunks. */
async function* skip(chunks: AsyncIterable<Buffer>, bytes: number): AsyncGenerator<Buffer> {
  let left = bytes;
  for await (const chunk of chunks) {
    if (left >= chunk.length) {
      left -= chunk.length;
      continue;
    }
    yield left > 0 ? chunk.subarray(left) : chunk;
    left = 0;
  }
}

/**
 * Opens an object at `offset` (bytes of decompressed content): gzip is recognised by its magic
 * bytes, the format by the first non-blank character.
 */
export async function openObject(object: InputObject, offset = 0): Promise<OpenedObject> {
  let rawBytes = 0;
  const streams: Readable[] = [];
  const counted = async function* (stream: Readable): AsyncGenerator<Buffer> {
    for await (const chunk of stream) {
      rawBytes += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
  };
  const raw = await object.openRaw(0);
  streams.push(raw);
  const rawIterator = counted(raw)[Symbol.asyncIterator]();
  const rawHead = await head(rawIterator, (bytes) => bytes.length >= 2);
  const first = Buffer.concat(rawHead);
  const gzip = first.length >= 2 && first[0] === GZIP_MAGIC[0] && first[1] === GZIP_MAGIC[1];
  let content: AsyncIterable<Buffer> = concat(rawHead, rawIterator);
  if (gzip) {
    const gunzip = createGunzip({ chunkSize: CHUNK_BYTES });
    streams.push(gunzip);
    const source = Readable.from(content);
    source.on('error', (error) => gunzip.destroy(error));
    content = source.pipe(gunzip);
  }
  const contentIterator = content[Symbol.asyncIterator]();
  const contentHead = await head(contentIterator, (bytes) => formatOfHead(bytes) !== undefined);
  const format = formatOfHead(Buffer.concat(contentHead)) ?? 'jsonl';
  let chunks: AsyncIterable<Buffer>;
  if (offset === 0) chunks = concat(contentHead, contentIterator);
  else if (gzip) chunks = skip(concat(contentHead, contentIterator), offset);
  else {
    // A plain object is read again from the offset rather than from its start.
    raw.destroy();
    const again = await object.openRaw(offset);
    streams.push(again);
    rawBytes = offset;
    chunks = counted(again);
  }
  return {
    format,
    gzip,
    chunks,
    get rawBytes() {
      return rawBytes;
    },
    close: () => {
      for (const stream of streams) stream.destroy();
    },
  };
}

/** One record's text again, from its byte range (a failed record retried by a later run). */
export async function readObjectRange(object: InputObject, start: number, end: number): Promise<string> {
  const opened = await openObject(object, start);
  try {
    const parts: Buffer[] = [];
    let size = 0;
    for await (const chunk of opened.chunks) {
      parts.push(chunk);
      size += chunk.length;
      if (size >= end - start) break;
    }
    return stripLine(Buffer.concat(parts).subarray(0, end - start).toString('utf8'), start === 0);
  } finally {
    opened.close();
  }
}

/** Counts an object's records (the progress total of a single local object). */
export async function countObjectRecords(object: InputObject, signal: AbortSignal): Promise<number | undefined> {
  let opened: OpenedObject | undefined;
  try {
    opened = await openObject(object);
    let count = 0;
    for await (const _record of splitRecords(opened.chunks, { format: opened.format, collect: false })) {
      if (signal.aborted) return undefined;
      count += 1;
    }
    return count;
  } catch {
    return undefined;
  } finally {
    opened?.close();
  }
}
