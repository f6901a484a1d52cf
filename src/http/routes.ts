/**
 * The HTTP routes (SPEC §1, §1.1), each described by a policy: what opens it, how its body is
 * read, and how its answer treats invalid and parked events. Code on the request path asks the
 * policy instead of testing route names.
 */

/** What a tracking-API path carries: a batch envelope or one call of a given type. */
export type TrackingCall = 'batch' | 'identify' | 'track' | 'group' | 'page' | 'screen' | 'alias';

export interface RoutePolicy {
  /** For logs and metrics. */
  name: 'events' | 'tracking' | 'health';
  methods: readonly string[];
  /**
   * Who may call: the webhook secrets as a Bearer token; the tracking API's write keys (Basic
   * user name, Bearer, or the body's `writeKey`); or anyone (plain `GET /health`, which touches
   * nothing — `?deep=1` needs the webhook secret).
   */
  credentials: 'webhook-secret' | 'write-key';
  /** How the body becomes raw events: RudderStack's webhook shapes, or one tracking-API call. */
  body: { kind: 'events' } | { kind: 'tracking'; call: TrackingCall } | { kind: 'none' };
  /**
   * An invalid event in a batch: `request` refuses the whole request before anything is sent
   * (RudderStack's webhook sends one event per request); `event` delivers the valid ones and
   * reports the invalid ones (an SDK drops a batch answered 4xx, valid events included).
   */
  invalidEvents: 'reject-request' | 'reject-event';
  /** Status when the worst outcome is a parked event: 202, or 200 where the SDKs expect it. */
  parkedStatus: 200 | 202;
  /**
   * Events without `timestamp` get `receivedAt − (sentAt − originalTimestamp)`, removing the
   * device clock's skew, as RudderStack's server does (the SDKs send raw device times).
   */
  skewCorrected: boolean;
}

const EVENTS: RoutePolicy = Object.freeze<RoutePolicy>({
  name: 'events',
  methods: ['POST'],
  credentials: 'webhook-secret',
  body: { kind: 'events' },
  invalidEvents: 'reject-request',
  parkedStatus: 202,
  skewCorrected: false,
});

const HEALTH: RoutePolicy = Object.freeze<RoutePolicy>({
  name: 'health',
  methods: ['GET'],
  credentials: 'webhook-secret',
  body: { kind: 'none' },
  invalidEvents: 'reject-request',
  parkedStatus: 202,
  skewCorrected: false,
});

const TRACKING_CALLS: readonly TrackingCall[] = ['batch', 'identify', 'track', 'group', 'page', 'screen', 'alias'];

const tracking = (call: TrackingCall): RoutePolicy =>
  Object.freeze<RoutePolicy>({
    name: 'tracking',
    methods: ['POST'],
    credentials: 'write-key',
    body: { kind: 'tracking', call },
    invalidEvents: 'reject-event',
    parkedStatus: 200,
    skewCorrected: true,
  });

/** Path → policy. */
export const ROUTES: ReadonlyMap<string, RoutePolicy> = new Map<string, RoutePolicy>([
  ['/events', EVENTS],
  ['/health', HEALTH],
  ...TRACKING_CALLS.map((call): [string, RoutePolicy] => [`/v1/${call}`, tracking(call)]),
]);
