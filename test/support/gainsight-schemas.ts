import * as z from 'zod';

/**
 * Zod schemas of the Gainsight PX REST API v1 request bodies the relay writes, as documented
 * (Gainsight PX's REST API reference: https://px-apidocs.gainsight.com/,
 * definitions User, Account, Location, CustomEvent), narrowed to what the relay may send:
 * - every object is strict: an unknown or read-only top-level field fails;
 * - enums as the relay uses them: `type` and `userType` are `USER`, gender MALE/FEMALE/OTHER;
 * - dates and `score` are int64 epoch milliseconds / integers, and must be safe integers (a
 *   double such as 1e300 or 3.5 is not an int64); `numberOfEmployees` and `healthScore` int32;
 * - coordinates are finite numbers; `propertyKeys` a non-empty array of non-empty strings;
 * - ids (identifyId, account id, accountId, ids in paths) are non-empty strings;
 * - custom event limits: eventName ≤ 2000 characters, ≤ 50 attributes, attribute names
 *   ≤ 1024 characters, attribute values flat (string, number, boolean; the relay JSON-encodes
 *   objects, arrays and null as strings, as the peer does).
 *
 * `validateGainsightRequest(method, path, body)` picks the schema from the call, so a test can
 * check every request a fake Gainsight received.
 */

/** A non-empty string id. */
const Id = z.string().min(1);
/** int64 epoch milliseconds, within the safe-integer range JavaScript can send exactly. */
const EpochMs = z.int();
const Text = z.string();

/** `definitions.Coordinates`: doubles. */
export const CoordinatesSchema = z.strictObject({
  latitude: z.number().optional(),
  longitude: z.number().optional(),
});

/** `definitions.Location`: strings, with latitude/longitude nested under `coordinates`. */
export const LocationSchema = z.strictObject({
  countryName: Text.optional(),
  countryCode: Text.optional(),
  stateName: Text.optional(),
  stateCode: Text.optional(),
  city: Text.optional(),
  street: Text.optional(),
  postalCode: Text.optional(),
  continent: Text.optional(),
  regionName: Text.optional(),
  timeZone: Text.optional(),
  coordinates: CoordinatesSchema.optional(),
});

const PropertyKeys = z.array(z.string().min(1)).min(1);
const JsonRecord = z.record(z.string(), z.unknown());

/** Writable fields of `definitions.User`; read-only ones (lastSeenDate, ...) are absent. */
const userFields = {
  identifyId: Id.optional(),
  type: z.literal('USER').optional(),
  gender: z.enum(['MALE', 'FEMALE', 'OTHER']).optional(),
  email: Text.optional(),
  firstName: Text.optional(),
  lastName: Text.optional(),
  title: Text.optional(),
  phone: Text.optional(),
  role: Text.optional(),
  subscriptionId: Text.optional(),
  accountId: Id.optional(),
  score: z.int().optional(),
  signUpDate: EpochMs.optional(),
  firstVisitDate: EpochMs.optional(),
  globalUnsubscribe: z.boolean().optional(),
  sfdcContactId: Text.optional(),
  location: LocationSchema.optional(),
  propertyKeys: PropertyKeys.optional(),
  customAttributes: JsonRecord.optional(),
};

/**
 * `PUT /users/{id}`: a partial update. `createDate` is read-only on updates (the conformance cases allow leaving it out), and the
 * link body `{"accountId": groupId}` of a group call is a valid update.
 */
export const UserUpdateSchema = z.strictObject(userFields);

/** `POST /users`: identifyId and propertyKeys required; createDate set once, at creation. */
export const UserCreateSchema = z.strictObject({
  ...userFields,
  identifyId: Id,
  propertyKeys: PropertyKeys,
  createDate: EpochMs.optional(),
});

/** Writable fields of `definitions.Account`. */
const accountFields = {
  id: Id.optional(),
  name: z.string().min(1),
  trackedSubscriptionId: Text.optional(),
  sfdcId: Text.optional(),
  dunsNumber: Text.optional(),
  industry: Text.optional(),
  numberOfEmployees: z.int32().optional(),
  sicCode: Text.optional(),
  website: Text.optional(),
  naicsCode: Text.optional(),
  plan: Text.optional(),
  parentGroupId: Text.optional(),
  lastSeenDate: EpochMs.optional(),
  renewalDate: EpochMs.optional(),
  healthScore: z.int32().optional(),
  gsId: Text.optional(),
  nps: z.number().optional(),
  csm: Text.optional(),
  location: LocationSchema.optional(),
  propertyKeys: PropertyKeys,
  customAttributes: JsonRecord.optional(),
};

/** `PUT /accounts/{id}`: name and propertyKeys (the relay always sends both); no createDate. */
export const AccountUpdateSchema = z.strictObject(accountFields);

/** `POST /accounts`: id, name and propertyKeys required. */
export const AccountCreateSchema = z.strictObject({ ...accountFields, id: Id, createDate: EpochMs.optional() });

/** Custom event limits. */
export const CUSTOM_EVENT_LIMITS = Object.freeze({ eventName: 2000, attributes: 50, attributeName: 1024 });

const Attributes = z
  .record(z.string().max(CUSTOM_EVENT_LIMITS.attributeName), z.union([z.string(), z.number(), z.boolean()]))
  .refine((attributes) => Object.keys(attributes).length <= CUSTOM_EVENT_LIMITS.attributes, {
    message: `at most ${CUSTOM_EVENT_LIMITS.attributes} attributes`,
  });

/** `POST /events/custom` (`definitions.CustomEvent`). */
export const CustomEventSchema = z.strictObject({
  eventName: z.string().min(1).max(CUSTOM_EVENT_LIMITS.eventName),
  identifyId: Id,
  propertyKey: z.string().min(1),
  userType: z.literal('USER'),
  date: EpochMs.optional(),
  // Documented as a string; the relay passes RudderStack's numeric session ids through as the peer does.
  sessionId: z.union([Text, z.number()]).optional(),
  url: Text.optional(),
  referrer: Text.optional(),
  remoteHost: Text.optional(),
  accountId: Id.optional(),
  eventId: Text.optional(),
  eventType: Text.optional(),
  attributes: Attributes.optional(),
  globalContext: JsonRecord.optional(),
});

export type GainsightCall = 'user update' | 'user create' | 'account update' | 'account create' | 'custom event';

export type GainsightValidation =
  | { success: true; call: GainsightCall; id?: string }
  | { success: false; call?: GainsightCall; issues: string[] };

const SCHEMAS: Record<GainsightCall, z.ZodType> = {
  'user update': UserUpdateSchema,
  'user create': UserCreateSchema,
  'account update': AccountUpdateSchema,
  'account create': AccountCreateSchema,
  'custom event': CustomEventSchema,
};

/** Which documented write `method path` is; the id in the path decoded. */
function callOf(method: string, path: string): { call: GainsightCall; id?: string } | { problem: string } {
  const pathname = (path.split('?')[0] ?? '').replace(/^\/v1(?=\/)/, '');
  const verb = method.toUpperCase();
  if (verb === 'POST' && pathname === '/users') return { call: 'user create' };
  if (verb === 'POST' && pathname === '/accounts') return { call: 'account create' };
  if (verb === 'POST' && pathname === '/events/custom') return { call: 'custom event' };
  const match = /^\/(users|accounts)\/([^/]+)$/.exec(pathname);
  if (verb === 'PUT' && match) {
    let id: string;
    try {
      id = decodeURIComponent(match[2] as string);
    } catch {
      return { problem: `path id is not valid percent-encoding: ${pathname}` };
    }
    if (id === '') return { problem: 'path id is empty' };
    return { call: match[1] === 'users' ? 'user update' : 'account update', id };
  }
  return { problem: `not a documented Gainsight PX write the relay makes: ${verb} ${pathname}` };
}

/**
 * Validates one request against Gainsight's documented body for its call:
 * `PUT|POST /users`, `PUT /users/{id}`, `PUT|POST /accounts…`, `POST /events/custom`
 * (`path` with or without the `/v1` prefix, still URL-encoded).
 */
export function validateGainsightRequest(method: string, path: string, body: unknown): GainsightValidation {
  const which = callOf(method, path);
  if ('problem' in which) return { success: false, issues: [which.problem] };
  const result = SCHEMAS[which.call].safeParse(body);
  if (result.success) return { success: true, ...which };
  return {
    success: false,
    call: which.call,
    issues: result.error.issues.map((issue) => `${issue.path.map(String).join('.') || '(body)'}: ${issue.message}`),
  };
}
