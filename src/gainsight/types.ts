/**
 * The parts of Gainsight PX's documented objects the relay writes.
 * API ref: https://px-apidocs.gainsight.com/ (definitions User, Account, CustomEvent, Location)
 */

export interface Location {
  countryName?: string;
  countryCode?: string;
  stateName?: string;
  stateCode?: string;
  city?: string;
  street?: string;
  postalCode?: string;
  continent?: string;
  regionName?: string;
  timeZone?: string;
  coordinates?: { latitude?: number; longitude?: number };
}

export type Gender = 'MALE' | 'FEMALE' | 'OTHER';

/** `User` as written by `PUT /users/{id}` and `POST /users`. Dates are epoch milliseconds. */
export interface UserBody {
  identifyId?: string;
  type?: 'USER';
  email?: string;
  firstName?: string;
  lastName?: string;
  gender?: Gender;
  title?: string;
  phone?: string;
  score?: number;
  role?: string;
  subscriptionId?: string;
  accountId?: string;
  signUpDate?: number;
  firstVisitDate?: number;
  createDate?: number;
  globalUnsubscribe?: boolean;
  sfdcContactId?: string;
  location?: Location;
  propertyKeys: string[];
  customAttributes?: Record<string, unknown>;
}

/** `Account` as written by `PUT /accounts/{id}` and `POST /accounts`. */
export interface AccountBody {
  id?: string;
  name: string;
  trackedSubscriptionId?: string;
  sfdcId?: string;
  dunsNumber?: string;
  industry?: string;
  numberOfEmployees?: number;
  sicCode?: string;
  website?: string;
  naicsCode?: string;
  plan?: string;
  parentGroupId?: string;
  lastSeenDate?: number;
  createDate?: number;
  location?: Location;
  propertyKeys: string[];
  customAttributes?: Record<string, unknown>;
}

/** `CustomEvent` as written by `POST /events/custom`. */
export interface CustomEventBody {
  eventName: string;
  identifyId: string;
  propertyKey: string;
  userType: 'USER';
  date?: number;
  sessionId?: string | number;
  url?: string;
  referrer?: string;
  accountId?: string;
  attributes: Record<string, unknown>;
  globalContext?: Record<string, unknown>;
}

/** The methods the client sends (metrics count calls by them). */
export const HTTP_METHODS = ['GET', 'PUT', 'POST'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/**
 * One Gainsight call, described but not sent. Mapping and planning build these; the client in
 * `src/gainsight/client.ts` is the only thing that sends them (and dry run prints them).
 */
export interface GainsightRequest {
  method: HttpMethod;
  /** Path below the base URL, ids already URL-encoded, e.g. `/users/a%2Fb`. */
  path: string;
  body?: unknown;
  /** `body` as JSON, encoded once when the request is planned (so a body that cannot be
   *  encoded is a 400 before anything is sent). */
  json?: string;
}
