import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { recordHeaders, startLoopbackServer, type RecordedHeaders } from './http.ts';

/**
 * A loopback fake of Amazon S3's REST API, for the two calls a backfill makes, the way
 * `@aws-sdk/client-s3` v3 sends them to an IP endpoint (`AWS_ENDPOINT_URL_S3=http://127.0.0.1:PORT`,
 * which makes the SDK address buckets in the path):
 *
 * - ListObjectsV2: `GET /{bucket}?list-type=2&prefix=&continuation-token=&max-keys=`, answered
 *   with S3's `ListBucketResult` XML — keys in UTF-8 binary order, `IsTruncated`,
 *   `NextContinuationToken` (opaque), `KeyCount`, `ETag` with its quotes XML-escaped.
 * - GetObject: `GET /{bucket}/{key}` (`x-id=GetObject`), the body streamed in chunks (optionally
 *   slowed down), with `ETag`, `Content-Length`, `Last-Modified`, `Accept-Ranges`;
 *   `Range: bytes=N-` → 206 with `Content-Range`; `If-Match` that differs → 412
 *   `PreconditionFailed`.
 *
 * Errors are S3's XML error documents (`<Error><Code>…</Code><Message>…</Message>…`): NoSuchBucket,
 * NoSuchKey (404), AccessDenied (403, for objects or prefixes a test denies, and for a request
 * without a SigV4 `authorization` header), InvalidRange (416). ETags are the MD5 of the content,
 * in quotes, as S3 gives them for single-part uploads.
 */

export interface S3Call {
  method: string;
  /** `ListObjectsV2` or `GetObject` (or `Unknown`). */
  operation: string;
  bucket: string;
  key?: string;
  query: Record<string, string>;
  headers: RecordedHeaders;
  status: number;
}

export interface FakeS3Options {
  /** Keys per ListObjectsV2 page unless the request asks for fewer (S3's own is 1000). */
  pageSize?: number;
  /** Bytes per body chunk (default 16 KiB) and a pause between chunks (default none). */
  chunkBytes?: number;
  chunkDelayMs?: number;
}

export interface FakeS3 {
  /** `http://127.0.0.1:PORT`: use as `AWS_ENDPOINT_URL_S3`. */
  readonly endpoint: string;
  readonly calls: S3Call[];
  /** Stores an object (a new ETag when the content changes). Returns the ETag, quotes included. */
  put(bucket: string, key: string, body: Buffer | string): string;
  remove(bucket: string, key: string): void;
  /** Answers AccessDenied to reads of keys starting with `prefix` (and to lists of such a prefix). */
  deny(bucket: string, prefix: string): void;
  etag(bucket: string, key: string): string;
  /** Slows the bodies down (ms between chunks), e.g. to stop a run in the middle of an object. */
  setChunkDelay(ms: number): void;
  reset(): void;
  close(): Promise<void>;
}

interface StoredObject {
  body: Buffer;
  etag: string;
  lastModified: Date;
}

const xmlEscape = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

const httpDate = (date: Date): string => date.toUTCString();

export async function startFakeS3(options: FakeS3Options = {}): Promise<FakeS3> {
  const buckets = new Map<string, Map<string, StoredObject>>();
  const denied: { bucket: string; prefix: string }[] = [];
  const calls: S3Call[] = [];
  const pageSize = options.pageSize ?? 1000;
  const chunkBytes = options.chunkBytes ?? 16 * 1024;
  let chunkDelayMs = options.chunkDelayMs ?? 0;

  const sendError = (res: ServerResponse, status: number, code: string, message: string, extra: Record<string, string> = {}): void => {
    const fields = Object.entries(extra)
      .map(([name, value]) => `<${name}>${xmlEscape(value)}</${name}>`)
      .join('');
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message>${fields}<RequestId>${randomUUID()}</RequestId><HostId>fake</HostId></Error>`;
    res.writeHead(status, { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(body)), 'x-amz-request-id': randomUUID() });
    res.end(body);
  };

  const isDenied = (bucket: string, key: string): boolean => denied.some((rule) => rule.bucket === bucket && key.startsWith(rule.prefix));

  const list = (res: ServerResponse, bucket: string, objects: Map<string, StoredObject>, query: Record<string, string>): number => {
    const prefix = query.prefix ?? '';
    if (isDenied(bucket, prefix)) {
      sendError(res, 403, 'AccessDenied', 'Access Denied');
      return 403;
    }
    const max = Math.min(pageSize, query['max-keys'] === undefined ? 1000 : Number(query['max-keys']));
    // Continuation tokens are opaque to the client: here, the base64 of the last key returned.
    const after = query['continuation-token'] === undefined ? undefined : Buffer.from(query['continuation-token'], 'base64').toString('utf8');
    const keys = [...objects.keys()]
      .filter((key) => key.startsWith(prefix) && (after === undefined || Buffer.compare(Buffer.from(key), Buffer.from(after)) > 0))
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const page = keys.slice(0, max);
    const truncated = keys.length > page.length;
    const contents = page
      .map((key) => {
        const object = objects.get(key) as StoredObject;
        return `<Contents><Key>${xmlEscape(key)}</Key><LastModified>${object.lastModified.toISOString()}</LastModified><ETag>${xmlEscape(object.etag)}</ETag><Size>${object.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
      })
      .join('');
    const body =
      `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
      `<Name>${xmlEscape(bucket)}</Name><Prefix>${xmlEscape(prefix)}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>${max}</MaxKeys>` +
      `<IsTruncated>${truncated}</IsTruncated>${contents}` +
      (query['continuation-token'] === undefined ? '' : `<ContinuationToken>${xmlEscape(query['continuation-token'])}</ContinuationToken>`) +
      (truncated ? `<NextContinuationToken>${Buffer.from(page[page.length - 1] as string).toString('base64')}</NextContinuationToken>` : '') +
      `</ListBucketResult>`;
    res.writeHead(200, { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(body)), 'x-amz-request-id': randomUUID() });
    res.end(body);
    return 200;
  };

  const get = (req: IncomingMessage, res: ServerResponse, bucket: string, key: string, object: StoredObject | undefined): number => {
    if (isDenied(bucket, key)) {
      sendError(res, 403, 'AccessDenied', 'Access Denied');
      return 403;
    }
    if (object === undefined) {
      sendError(res, 404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });
      return 404;
    }
    const ifMatch = req.headers['if-match'];
    if (ifMatch !== undefined && ifMatch !== object.etag && ifMatch !== '*') {
      sendError(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: 'If-Match' });
      return 412;
    }
    let start = 0;
    const range = req.headers.range;
    if (range !== undefined) {
      const match = /^bytes=(\d+)-$/.exec(range);
      if (!match || Number(match[1]) >= object.body.length) {
        sendError(res, 416, 'InvalidRange', 'The requested range is not satisfiable', { RangeRequested: range, ActualObjectSize: String(object.body.length) });
        return 416;
      }
      start = Number(match[1]);
    }
    const body = object.body.subarray(start);
    const status = range === undefined ? 200 : 206;
    res.writeHead(status, {
      'content-type': 'application/octet-stream',
      'content-length': String(body.length),
      etag: object.etag,
      'last-modified': httpDate(object.lastModified),
      'accept-ranges': 'bytes',
      'x-amz-request-id': randomUUID(),
      ...(range === undefined ? {} : { 'content-range': `bytes ${start}-${object.body.length - 1}/${object.body.length}` }),
    });
    let offset = 0;
    const pump = (): void => {
      while (offset < body.length && !res.destroyed) {
        const chunk = body.subarray(offset, offset + chunkBytes);
        offset += chunk.length;
        const more = res.write(chunk);
        if (chunkDelayMs > 0) {
          setTimeout(pump, chunkDelayMs);
          return;
        }
        if (!more) {
          res.once('drain', pump);
          return;
        }
      }
      if (offset >= body.length) res.end();
    };
    pump();
    return status;
  };

  const server = await startLoopbackServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const query = Object.fromEntries(url.searchParams);
    const [bucketPart = '', ...keyParts] = url.pathname.slice(1).split('/');
    const bucket = decodeURIComponent(bucketPart);
    // `/bucket` and `/bucket/` both address the bucket (the SDK sends the latter for a list).
    const joined = keyParts.map(decodeURIComponent).join('/');
    const key = joined === '' ? undefined : joined;
    const operation = req.method === 'GET' && key === undefined && query['list-type'] === '2' ? 'ListObjectsV2' : req.method === 'GET' && key ? 'GetObject' : 'Unknown';
    const call: S3Call = { method: req.method ?? '', operation, bucket, ...(key === undefined ? {} : { key }), query, headers: recordHeaders(req), status: 0 };
    calls.push(call);
    if (!(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ')) {
      sendError(res, 403, 'AccessDenied', 'Request is not signed (SigV4 expected)');
      call.status = 403;
      return;
    }
    const objects = buckets.get(bucket);
    if (objects === undefined) {
      sendError(res, 404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });
      call.status = 404;
      return;
    }
    if (operation === 'ListObjectsV2') call.status = list(res, bucket, objects, query);
    else if (operation === 'GetObject') call.status = get(req, res, bucket, key as string, objects.get(key as string));
    else {
      sendError(res, 501, 'NotImplemented', `the fake serves ListObjectsV2 and GetObject only (${req.method} ${url.pathname})`);
      call.status = 501;
    }
  });

  return {
    endpoint: server.origin,
    calls,
    put(bucket, key, body) {
      const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
      const etag = `"${createHash('md5').update(bytes).digest('hex')}"`;
      let objects = buckets.get(bucket);
      if (objects === undefined) buckets.set(bucket, (objects = new Map()));
      objects.set(key, { body: bytes, etag, lastModified: new Date() });
      return etag;
    },
    remove(bucket, key) {
      buckets.get(bucket)?.delete(key);
    },
    deny(bucket, prefix) {
      denied.push({ bucket, prefix });
    },
    etag(bucket, key) {
      const object = buckets.get(bucket)?.get(key);
      if (object === undefined) throw new Error(`no object s3://${bucket}/${key}`);
      return object.etag;
    },
    setChunkDelay(ms) {
      chunkDelayMs = ms;
    },
    reset() {
      buckets.clear();
      denied.length = 0;
      calls.length = 0;
      chunkDelayMs = options.chunkDelayMs ?? 0;
    },
    close: () => server.close(),
  };
}
