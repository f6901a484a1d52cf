/**
 * The HTTP routes (docs/http-contract.md, docs/senders.md), each described by a policy: who may call, how the body is
 * read, and how the answer treats invalid and parked events. Code on the request path asks the
 * policy instead of testing route names.
 */

/** What a tracking-API path carries: a batch envelope or one call of a given type. */
export type TrackingCall = 'batch' | 'identify' | 'track' | 'group' | 'page' | 'screen' | 'alias';

/** A route that takes events: `POST /events` and the tracking API. */
export interface EventsRoute {
  name: 'events' | 'tracking';
  methods: readonly string[];
  /**
   * Who may call: the webhook secrets as a Bearer token, or the tracking API's write keys (Basic
   * user name, Bearer, or the body's `writeKey`).
   */
  credentials: 'webhook-secret' | 'write-key';
  /** How the body becomes raw events: RudderStack's webhook shapes, or one tracking-API call. */
  body: { kind: 'events' } | { kind: 'tracking'; call: TrackingCall };
  /**
   * An invalid event in a batch: `request` refuses the whole request before anything is sent
   * (RudderStack's webhook sends one event per request); `event` delivers the valid ones and
   * reports the invalid ones (an SDK drops a batch answered 4xx, valid events included).
   */
  invalidEvents: 'reject-request' | 'reject-event';
  /** Status when the worst outcome is a parked event: 202, or 200 where the SDKs expect it. */
  parkedStatus: 200 | 202;
  /**
   * In direct mode, which events that could not be delivered in the budget may be parked:
   * `custom-events` keeps per-user order for RudderStack's webhook, which sends a user's events
   * one at a time and waits for a 2xx — an identify or group is answered 503 and retried before
   * that user's later events, so an old update never overwrites a newer one (custom events carry
   * their own date); `all` parks every type, for SDKs that give up after a few retries
   * (durability over order; DELIVERY_MODE=queued with a FIFO queue keeps both).
   */
  parks: 'custom-events' | 'all';
  /**
   * Events without `timestamp` get `receivedAt − (sentAt − originalTimestamp)`, removing the
   * device clock's skew, as RudderStack's server does (the SDKs send raw device times).
   */
  skewCorrected: boolean;
}

/**
 * `GET /health`: open, answered at once, touching nothing; `GET /health?deep=1` checks SSM and
 * Gainsight and needs the webhook secret.
 */
export interface HealthRoute {
  name: 'health' | 'deep-health';
  methods: readonly string[];
  credentials: 'none' | 'webhook-secret';
}

export type RoutePolicy = EventsRoute | HealthRoute;

const EVENTS: EventsRoute = Object.freeze<EventsRoute>({
  name: 'events',
  methods: ['POST'],
  credentials: 'webhook-secret',
  body: { kind: 'events' },
  invalidEvents: 'reject-request',
  parkedStatus: 202,
  parks: 'custom-events',
  skewCorrected: false,
});

export const HEALTH: HealthRoute = Object.freeze<HealthRoute>({ name: 'health', methods: ['GET'], credentials: 'none' });
export const DEEP_HEALTH: HealthRoute = Object.freeze<HealthRoute>({ name: 'deep-health', methods: ['GET'], credentials: 'webhook-secret' });

const TRACKING_CALLS: readonly TrackingCall[] = ['batch', 'identify', 'track', 'group', 'page', 'screen', 'alias'];

const tracking = (call: TrackingCall): EventsRoute =>
  Object.freeze<EventsRoute>({
    name: 'tracking',
    methods: ['POST'],
    credentials: 'write-key',
    body: { kind: 'tracking', call },
    invalidEvents: 'reject-event',
    parkedStatus: 200,
    parks: 'all',
    skewCorrected: true,
  });

/** Path → policy (`/health` becomes {@link DEEP_HEALTH} with `?deep=1`). */
export const ROUTES: ReadonlyMap<string, RoutePolicy> = new Map<string, RoutePolicy>([
  ['/events', EVENTS],
  ['/health', HEALTH],
  ...TRACKING_CALLS.map((call): [string, RoutePolicy] => [`/v1/${call}`, tracking(call)]),
]);

export const isEventsRoute = (route: RoutePolicy): route is EventsRoute => route.name === 'events' || route.name === 'tracking';
