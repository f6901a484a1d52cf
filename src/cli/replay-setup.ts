import { resolve } from 'node:path';
import { Checkpoint, CheckpointError } from './checkpoint.ts';
import type { EventFilter } from './filters.ts';
import { checkOutputPaths } from './guards.ts';
import { type Lock, acquireLock } from './lock.ts';
import { DailyQuota } from './quota.ts';
import type { InputFormat } from './records.ts';
import { eventsUrl } from './relay-target.ts';
import type { ReplayOptions, ReplayTarget } from './replay.ts';
import { type S3Reader, s3Reader } from './s3.ts';
import { type InputObject, openObject, resolveInputs } from './sources.ts';

/**
 * Before a replay sends anything: its inputs listed, its output files checked against them, the
 * checkpoint's lock taken, the checkpoint opened for this target and filters, every object an
 * earlier run read checked for changes, and the day's quota set up with the calls already made.
 * Any refusal here is thrown before a single event is read.
 */

/** Calls per UTC day unless the command line says otherwise: half of Gainsight's million. */
export const DEFAULT_QUOTA = { dailyQuota: 1_000_000, share: 0.5, wait: true } as const;

export interface RunSetup {
  objects: InputObject[];
  /** More than one plain file: messages and rejected entries name the object. */
  multi: boolean;
  /** The format of a single file (for the header). */
  singleFormat: InputFormat | undefined;
  checkpointPath?: string;
  checkpoint?: Checkpoint;
  rejectedPath: string;
  lock?: Lock;
  quota?: DailyQuota;
  /** Releases the lock and the S3 client. */
  close(): Promise<void>;
}

/** What the checkpoint must agree on with a rerun: where the events go, and which are sent. */
export function runIdentity(target: ReplayTarget, filter: EventFilter | undefined): string {
  const where =
    target.kind === 'relay'
      ? `relay ${eventsUrl(target.url)}`
      : `Gainsight PX ${target.config.baseUrl} product ${target.config.productKey ?? '?'} (config from ${target.config.source})`;
  return `${where}; ${filter?.description ?? 'all events'}`;
}

/**
 * @throws InputError, S3SourceError when an input cannot be listed; UsageError for clashing
 * output paths; CheckpointError without --checkpoint where one is needed, for a held lock, a
 * checkpoint of another run, or a changed input.
 */
export async function setUpRun(o: ReplayOptions, dryRun: boolean): Promise<RunSetup> {
  let reader: Promise<S3Reader> | undefined;
  let lock: Lock | undefined;
  const close = async (): Promise<void> => {
    lock?.release();
    if (reader) (await reader).close();
  };
  try {
    const inputs = await resolveInputs(o.inputs, () => (reader ??= (o.s3 ?? s3Reader)()));
    const { objects } = inputs;
    const single = objects.length === 1 && inputs.localRoots.length === 1 && !inputs.localRoots[0]?.directory;
    const file = single ? (o.inputs[0] as string) : undefined;
    let singleFormat: InputFormat | undefined;
    if (single) {
      const opened = await openObject(objects[0] as InputObject);
      singleFormat = opened.format;
      opened.close();
    }
    const base = { objects, multi: !single, singleFormat, close };
    if (dryRun) return { ...base, rejectedPath: '' };
    if (o.checkpointPath === undefined && file === undefined) {
      throw new CheckpointError('replay of several objects, a directory or s3:// needs --checkpoint <path>');
    }
    const checkpointPath = resolve(o.checkpointPath ?? `${file}.checkpoint.json`);
    const rejectedPath = resolve(o.rejectedPath ?? (file !== undefined ? `${file}.rejected.jsonl` : `${checkpointPath}.rejected.jsonl`));
    checkOutputPaths(inputs, { checkpoint: checkpointPath, rejected: rejectedPath });
    lock = acquireLock(checkpointPath);
    const checkpoint = Checkpoint.open(checkpointPath, runIdentity(o.target, o.filter), { restart: o.restart === true });
    const changed = checkpoint.changedObjects(objects);
    if (changed.length > 0) {
      checkpoint.close();
      throw new CheckpointError(
        `Input changed since an earlier run read it: ${changed.join('; ')}. Its records there were read (and sent) from other content, ` +
          'so it is not mixed in. Restore the original, or pass another --checkpoint to send the changed content as new ' +
          '(events already sent from it would be sent again)',
      );
    }
    const quota = new DailyQuota({ ...DEFAULT_QUOTA, ...o.quota, ...(checkpoint.savedQuota ? { state: checkpoint.savedQuota } : {}) });
    checkpoint.quotaSource = () => quota.state;
    return { ...base, checkpointPath, checkpoint, rejectedPath, lock, quota };
  } catch (error) {
    await close();
    throw error;
  }
}
