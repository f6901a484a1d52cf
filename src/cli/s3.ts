import type { Readable } from 'node:stream';

/**
 * The S3 side of the backfill sources: `s3://bucket/prefix` listed with ListObjectsV2 (every
 * page, through the continuation tokens) and each object read with a streaming GetObject.
 * `@aws-sdk/client-s3` is loaded on demand, by the CLI only (the Lambda never imports it), and
 * configured by the SDK's own variables: `AWS_REGION`, `AWS_PROFILE`, credentials,
 * `AWS_ENDPOINT_URL_S3` (with an IP endpoint, such as a loopback fake, the SDK addresses the
 * bucket in the path).
 */

export interface S3Location {
  bucket: string;
  prefix: string;
}

export interface S3Listing {
  key: string;
  size: number;
  /** As S3 sends it, quotes included: the content's identity (and GetObject's If-Match). */
  etag: string;
}

export interface S3Reader {
  list(location: S3Location): AsyncGenerator<S3Listing>;
  /**
   * The object's bytes from `offset` on, as a stream. `etag` is sent as If-Match: an object
   * rewritten since it was listed is refused by S3 rather than read half old, half new.
   */
  get(bucket: string, key: string, options: { etag: string; offset: number }): Promise<Readable>;
  close(): void;
}

/** S3 answered with an error, or could not be reached: names the object and S3's error code. */
export class S3SourceError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'S3SourceError';
  }
}

/** `s3://bucket/some/prefix` → `{ bucket, prefix }`; undefined for anything else. */
export function parseS3Url(spec: string): S3Location | undefined {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(spec);
  if (!match) return undefined;
  return { bucket: match[1] as string, prefix: match[2] as string };
}

const describeError = (error: unknown): { code: string; message: string } => {
  const e = error as { name?: unknown; Code?: unknown; message?: unknown; $metadata?: { httpStatusCode?: number } };
  const code = typeof e?.Code === 'string' ? e.Code : typeof e?.name === 'string' ? e.name : 'Unknown';
  const status = e?.$metadata?.httpStatusCode;
  const message = typeof e?.message === 'string' && e.message !== '' && e.message !== code ? `: ${e.message}` : '';
  return { code, message: `${code}${status === undefined ? '' : ` (HTTP ${status})`}${message}` };
};

/** The reader over `@aws-sdk/client-s3`, one client for the whole run. */
export async function s3Reader(): Promise<S3Reader> {
  const { S3Client, ListObjectsV2Command, GetObjectCommand } = await import('@aws-sdk/client-s3');
  const client = new S3Client({ maxAttempts: 5 });
  return {
    async *list({ bucket, prefix }) {
      let token: string | undefined;
      do {
        let page;
        try {
          page = await client.send(
            new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix === '' ? undefined : prefix, ContinuationToken: token }),
          );
        } catch (error) {
          const { code, message } = describeError(error);
          throw new S3SourceError(`cannot list s3://${bucket}/${prefix}: ${message}`, code);
        }
        for (const object of page.Contents ?? []) {
          if (object.Key === undefined || object.Key.endsWith('/')) continue; // a "folder" marker
          yield { key: object.Key, size: object.Size ?? 0, etag: object.ETag ?? '' };
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
    },
    async get(bucket, key, { etag, offset }) {
      try {
        const answer = await client.send(
          new GetObjectCommand({
            Bucket: bucket,
            Key: key,
            ...(etag === '' ? {} : { IfMatch: etag }),
            ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}),
          }),
        );
        return answer.Body as Readable;
      } catch (error) {
        const { code, message } = describeError(error);
        const why = code === 'PreconditionFailed' ? ' (the object changed since it was listed)' : '';
        throw new S3SourceError(`cannot read s3://${bucket}/${key}: ${message}${why}`, code);
      }
    },
    close: () => client.destroy(),
  };
}
