import { type Reason, readFailedQueueMessage } from '../delivery/parking.ts';
import type { ReceivedMessage } from '../delivery/queue.ts';
import type { AdminQueue } from './admin-queue.ts';
import { parseEvent } from '../events/index.ts';
import { resolveUserId } from '../mapping/index.ts';

/**
 * Reading the failed queue from the CLI (`gainsight-px-relay failed ...`): a {@link Sweep} hands
 * out each message once per run, keeping what it has handed out hidden until the run releases
 * it, and {@link describeMessage} / {@link formatEntry} say what a message holds, one line
 * each, without the event's traits and without the relay's secrets.
 */

export interface SweepOptions {
  /** How long a received message stays hidden; the run releases it earlier when done. */
  visibilitySeconds: number;
  /** Stop handing out messages (a graceful stop). */
  stopped?: () => boolean;
}

/** Receives in a row that bring back only messages already handed out, before giving up. */
const MAX_IDLE_RECEIVES = 50;

const keyOf = (message: ReceivedMessage): string => message.messageId ?? message.receiptHandle;

/**
 * One pass over a queue. SQS has no way to read a message without receiving it, and a receive
 * hides what it returns; so every message handed out stays hidden (held, or being handled) until
 * {@link release} makes the held ones visible again. That is also what makes the pass end: a
 * message seen before (one whose visibility ran out, or one this run sent) is held again and
 * not handed out twice. Receives long-poll for a second, so SQS asks all of its servers and an
 * empty answer means the queue has nothing visible left.
 */
export class Sweep {
  readonly #held = new Map<string, string>();
  readonly #seen = new Set<string>();
  received = 0;

  constructor(
    readonly queue: AdminQueue,
    readonly options: SweepOptions,
  ) {}

  /** Up to `max` messages not handed out before in this run; none when the queue has no more. */
  async next(max: number, signal?: AbortSignal): Promise<ReceivedMessage[]> {
    for (let idle = 0; idle < MAX_IDLE_RECEIVES; idle += 1) {
      if (this.options.stopped?.()) return [];
      const messages = await this.queue.receive(max, signal, { visibilitySeconds: this.options.visibilitySeconds, waitSeconds: 1 });
      if (messages.length === 0) return [];
      const fresh: ReceivedMessage[] = [];
      for (const message of messages) {
        const key = keyOf(message);
        if (this.#seen.has(key)) this.#held.set(key, message.receiptHandle);
        else {
          this.#seen.add(key);
          fresh.push(message);
        }
      }
      this.received += fresh.length;
      if (fresh.length > 0) return fresh;
    }
    return [];
  }

  /** Keeps a handed-out message hidden until {@link release}. */
  hold(message: ReceivedMessage): void {
    this.#held.set(keyOf(message), message.receiptHandle);
  }

  /** A message this run sent itself (by its MessageId): held, never handed out. */
  ignore(messageId: string | undefined): void {
    if (messageId !== undefined) this.#seen.add(messageId);
  }

  get heldCount(): number {
    return this.#held.size;
  }

  /** Makes every held message visible again; returns how many SQS could not release (they reappear when their visibility runs out). */
  async release(): Promise<number> {
    const handles = [...this.#held.values()];
    this.#held.clear();
    if (handles.length === 0) return 0;
    try {
      return handles.length - (await this.queue.releaseAll(handles));
    } catch {
      return handles.length;
    }
  }
}

/** What the CLI shows of one failed-queue message. */
export interface FailedEntry {
  /** `failed`: the relay's record of a rejection; `moved`: a parked message SQS moved here; `foreign`: neither. */
  record: 'failed' | 'moved' | 'foreign';
  sqsMessageId?: string;
  /** When SQS received the message, ISO. */
  sentAt?: string;
  /** When the relay gave up on the event, ISO; for a moved message, when it was parked. */
  failedAt?: string;
  type?: string;
  messageId?: string;
  userId?: string;
  reason?: Reason;
  /** The parked message's text could not be read as a parked event. */
  unreadable?: true;
  resumeAtStep?: number;
  attempts?: number;
  bytes: number;
  /** Only when asked for (`--show-events`): the event may carry any trait. */
  event?: unknown;
}

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : typeof value === 'number' && Number.isFinite(value) ? String(value) : undefined;

/** The event's type, message id and user (as the mapping resolves it, else as written). */
function eventFacts(event: unknown): Pick<FailedEntry, 'type' | 'messageId' | 'userId'> {
  if (typeof event !== 'object' || event === null) return {};
  const raw = event as Record<string, unknown>;
  let userId: string | undefined;
  try {
    userId = resolveUserId(parseEvent(event));
  } catch {
    userId = text(raw.userId) ?? text(raw.anonymousId);
  }
  const facts = { type: text(raw.type), messageId: text(raw.messageId), userId };
  return Object.fromEntries(Object.entries(facts).filter(([, value]) => value !== undefined));
}

/** A parked message as the failed queue may hold it: an object, or text that may still be one. */
function parkedObject(parked: unknown): Record<string, unknown> | undefined {
  let value = parked;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (typeof value !== 'object' || value === null || typeof (value as Record<string, unknown>).event !== 'object') return undefined;
  return value as Record<string, unknown>;
}

export function describeMessage(message: ReceivedMessage, showEvent = false): FailedEntry {
  const base: FailedEntry = {
    record: 'foreign',
    ...(message.messageId ? { sqsMessageId: message.messageId } : {}),
    ...(message.sentAt ? { sentAt: new Date(message.sentAt).toISOString() } : {}),
    bytes: Buffer.byteLength(message.body),
  };
  const read = readFailedQueueMessage(message.body);
  if (read.kind === 'foreign') return base;
  const parked = parkedObject(read.kind === 'moved' ? read.parked : read.failed.parked);
  const reason = read.kind === 'moved' ? read.parked.reason : read.failed.reason;
  const failedAt = text(read.kind === 'moved' ? read.parked.parkedAt : read.failed.failedAt);
  const entry: FailedEntry = {
    ...base,
    record: read.kind,
    ...(failedAt ? { failedAt } : {}),
    ...(parked ? eventFacts(parked.event) : { unreadable: true }),
    ...(typeof reason === 'object' && reason !== null ? { reason: { code: String(reason.code), status: Number(reason.status), message: String(reason.message) } } : {}),
    ...(typeof parked?.resumeAtStep === 'number' ? { resumeAtStep: parked.resumeAtStep } : {}),
    ...(typeof parked?.attempts === 'number' ? { attempts: parked.attempts } : {}),
  };
  return showEvent && parked ? { ...entry, event: parked.event } : entry;
}

/** When the entry failed (epoch ms), if it says. */
export const failedAtOf = (entry: FailedEntry): number | undefined => {
  const at = entry.failedAt === undefined ? Number.NaN : Date.parse(entry.failedAt);
  return Number.isNaN(at) ? undefined : at;
};

/** Longest reason message printed on a line (Gainsight's own text is already cut at 300). */
const MAX_REASON = 300;

// The queue is not a trusted source: no terminal control sequence reaches the operator's screen.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
const plain = (value: string): string => value.replace(CONTROL, ' ');

/** One line: `failedAt  type  messageId  userId  code status  message`, `-` for what is missing. */
export function formatEntry(entry: FailedEntry): string {
  if (entry.record === 'foreign') {
    return plain(`${entry.sentAt ?? '-'}  -  -  -  -  not a gainsight-px-relay failed event (${entry.bytes} bytes; SQS message ${entry.sqsMessageId ?? '?'})`);
  }
  const reason = entry.reason;
  const message = reason ? (reason.message.length > MAX_REASON ? `${reason.message.slice(0, MAX_REASON)}…` : reason.message) : '-';
  const note = [
    entry.unreadable ? 'unreadable parked message' : undefined,
    entry.record === 'moved' ? 'parked; moved here by SQS after too many receives' : undefined,
  ].filter((part) => part !== undefined);
  return plain(
    [
      entry.failedAt ?? '-',
      entry.type ?? (entry.unreadable ? 'unreadable' : '-'),
      entry.messageId ?? '-',
      entry.userId ?? '-',
      reason ? `${reason.code} ${reason.status}` : '-',
      `${message}${note.length > 0 ? `  [${note.join('; ')}]` : ''}`,
    ].join('  '),
  );
}

/** One JSON line; C1 control characters escaped as well as the ones JSON escapes itself. */
export const formatEntryJson = (entry: FailedEntry): string =>
  JSON.stringify(entry).replace(/[\u007f-\u009f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);

/**
 * Removes the secrets this process knows (the API key, webhook secrets and write keys from the
 * environment) from text about to be printed. The relay never stores them in a reason (its
 * client redacts Gainsight's answers), but the queue is not a trusted source.
 */
export function secretRedactor(env: Record<string, string | undefined>): (line: string) => string {
  const secrets = [env.PX_API_KEY, ...(env.WEBHOOK_SECRET ?? '').split(','), ...(env.WRITE_KEYS ?? '').split(',')]
    .map((secret) => secret?.trim() ?? '')
    .filter((secret) => secret.length >= 4)
    .sort((a, b) => b.length - a.length);
  return (line) => secrets.reduce((out, secret) => (out.includes(secret) ? out.split(secret).join('[redacted]') : out), line);
}
