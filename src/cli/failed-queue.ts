import { type Reason, readFailedQueueMessage } from '../delivery/parking.ts';
import type { ReceivedMessage } from '../delivery/queue.ts';
import { type AdminQueue, type HideAnswer, isNotHeld, isNotInFlight } from './admin-queue.ts';
import { parseEvent } from '../events/index.ts';
import { redactSecrets } from '../gainsight/client.ts';
import { resolveUserId } from '../mapping/index.ts';

/**
 * Reading the failed queue from the CLI (`gainsight-px-relay failed ...`): a {@link Sweep} hands
 * out each message once per run, keeping what it has handed out hidden until the run releases
 * it, and {@link describeMessage} / {@link formatEntry} say what a message holds, one line
 * each, without the event's traits and without the relay's secrets.
 */

export interface SweepOptions {
  /**
   * How long a received message stays hidden: long enough to handle a whole batch. A heartbeat
   * renews it while the pass lasts, and the run releases what it keeps when done, so this is
   * also how long messages stay hidden after the process was killed.
   */
  visibilitySeconds: number;
  /** Stop handing out messages (a graceful stop). */
  stopped?: () => boolean;
  /** How often the heartbeat renews the visibility (real time); default a third of it. */
  renewEveryMs?: number;
}

/** Receives in a row that bring back only messages already handed out, before giving up (on top of one per batch of messages seen). */
const MAX_IDLE_RECEIVES = 50;

const keyOf = (message: ReceivedMessage): string => message.messageId ?? message.receiptHandle;

/**
 * One pass over a queue. SQS has no way to read a message without receiving it, and a receive
 * hides what it returns; so every message handed out stays hidden (held, or being handled) until
 * {@link release} makes the held ones visible again, and a heartbeat renews their visibility
 * while the pass lasts. That is also what makes the pass end: a message seen before (one whose
 * visibility ran out all the same, or one this run sent) is held again and not handed out twice.
 * Receives long-poll for a second, so SQS asks all of its servers and an empty answer means the
 * queue has nothing visible left; a pass that gives up before such an answer is not
 * {@link complete}.
 */
export class Sweep {
  /** Handed out and still being handled, by key: the receipt handle that is this run's. */
  readonly #active = new Map<string, string>();
  readonly #held = new Map<string, string>();
  /** Handed out, but the heartbeat found the message was received by someone else meanwhile. */
  readonly #lost = new Set<string>();
  readonly #seen = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #renewing: Promise<void> | undefined;
  #complete = true;
  received = 0;

  constructor(
    readonly queue: AdminQueue,
    readonly options: SweepOptions,
  ) {}

  /** False when the pass gave up before SQS answered that nothing was left: some messages may not have been reached. */
  get complete(): boolean {
    return this.#complete;
  }

  /** Up to `max` messages not handed out before in this run; none when the queue has no more. */
  async next(max: number, signal?: AbortSignal): Promise<ReceivedMessage[]> {
    this.#startHeartbeat();
    // Every message seen may come back once after its visibility ran out: enough receives to hold them all again.
    const idleLimit = MAX_IDLE_RECEIVES + Math.ceil(this.#seen.size / Math.max(1, Math.min(10, max)));
    for (let idle = 0; idle < idleLimit; idle += 1) {
      if (this.options.stopped?.()) return [];
      const messages = await this.queue.receive(max, signal, { visibilitySeconds: this.options.visibilitySeconds, waitSeconds: 1 });
      if (messages.length === 0) return [];
      const fresh: ReceivedMessage[] = [];
      for (const message of messages) {
        const key = keyOf(message);
        if (!this.#seen.has(key)) {
          this.#seen.add(key);
          this.#active.set(key, message.receiptHandle);
          fresh.push(message);
        } else if (this.#active.has(key)) {
          // Still being handled, and received again by this run: the new handle is the one that counts.
          this.#active.set(key, message.receiptHandle);
          this.#lost.delete(key);
        } else this.#held.set(key, message.receiptHandle);
      }
      this.received += fresh.length;
      if (fresh.length > 0) return fresh;
    }
    this.#complete = false;
    return [];
  }

  /** Keeps a handed-out message hidden until {@link release}. */
  hold(message: ReceivedMessage): void {
    const key = keyOf(message);
    this.#held.set(key, this.#active.get(key) ?? message.receiptHandle);
    this.#active.delete(key);
    this.#lost.delete(key);
  }

  /**
   * Makes sure a handed-out message is still this run's, and keeps it hidden for another
   * visibility timeout: renewing the visibility with the run's handle fails when the message was
   * received again by someone else meanwhile (`failed list`, a purge, another replay), or gone.
   * A message visible again that nobody received since is still this run's (its handle is the
   * latest and deletes it), though only until someone receives it: a moment, not a visibility
   * timeout, in which another reader could take it.
   *
   * @returns false when the message is no longer this run's (it is forgotten: not held, not released).
   * @throws the queue error when SQS failed (the message is held).
   */
  async claim(message: ReceivedMessage): Promise<boolean> {
    const key = keyOf(message);
    if (this.#lost.has(key)) return this.#drop(key);
    try {
      await this.queue.hide(this.#handleOf(message), this.options.visibilitySeconds);
      return true;
    } catch (error) {
      if (isNotHeld(error)) return this.#drop(key);
      if (isNotInFlight(error)) return true;
      this.hold(message);
      throw error;
    }
  }

  /**
   * Deletes a handed-out message once {@link claim} confirmed it is still this run's: a delete
   * with a handle that is no longer current "succeeds" in SQS and removes nothing.
   *
   * @returns false when the message is no longer this run's: nothing was deleted.
   * @throws the queue error when SQS failed (the message stays; it is held).
   */
  async delete(message: ReceivedMessage): Promise<boolean> {
    if (!(await this.claim(message))) return false;
    try {
      await this.queue.delete(this.#handleOf(message));
    } catch (error) {
      this.hold(message);
      throw error;
    }
    this.#active.delete(keyOf(message));
    return true;
  }

  #handleOf(message: ReceivedMessage): string {
    return this.#active.get(keyOf(message)) ?? message.receiptHandle;
  }

  #drop(key: string): false {
    this.#active.delete(key);
    this.#lost.delete(key);
    return false;
  }

  /** A handed-out message the caller deleted itself: neither renewed nor released any more. */
  forget(message: ReceivedMessage): void {
    this.#drop(keyOf(message));
  }

  /** A message this run sent itself (by its MessageId): held, never handed out. */
  ignore(messageId: string | undefined): void {
    if (messageId !== undefined) this.#seen.add(messageId);
  }

  get heldCount(): number {
    return this.#held.size;
  }

  #startHeartbeat(): void {
    if (this.#timer !== undefined) return;
    const every = this.options.renewEveryMs ?? (this.options.visibilitySeconds * 1000) / 3;
    this.#timer = setInterval(() => {
      this.#renewing ??= this.#renew().finally(() => {
        this.#renewing = undefined;
      });
    }, every);
    this.#timer.unref();
  }

  /** Renews the visibility of every message handed out or held; notes the ones that are no longer this run's. */
  async #renew(): Promise<void> {
    const owners = new Map<string, string>();
    for (const [key, handle] of [...this.#active, ...this.#held]) owners.set(handle, key);
    if (owners.size === 0) return;
    let answer: HideAnswer;
    try {
      answer = await this.queue.hideAll([...owners.keys()], this.options.visibilitySeconds);
    } catch {
      return; // tried again at the next beat
    }
    // A held message visible again is no longer held: a receive of this pass holds it again.
    for (const handle of [...answer.notHeld, ...answer.visible]) {
      const key = owners.get(handle)!;
      if (this.#held.get(key) === handle) this.#held.delete(key);
    }
    for (const handle of answer.notHeld) {
      const key = owners.get(handle)!;
      if (this.#active.get(key) === handle) this.#lost.add(key);
    }
  }

  /** Stops the heartbeat and makes every held message visible again; returns how many SQS could not release (they reappear when their visibility runs out). */
  async release(): Promise<number> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#renewing;
    const handles = [...this.#held.values(), ...this.#active.values()];
    this.#held.clear();
    this.#active.clear();
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
  const secrets = [env.PX_API_KEY, ...(env.WEBHOOK_SECRET ?? '').split(','), ...(env.WRITE_KEYS ?? '').split(',')].map((secret) => secret?.trim() ?? '');
  return (line) => redactSecrets(line, secrets);
}
