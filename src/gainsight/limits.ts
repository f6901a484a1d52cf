import { ValidationError } from '../errors.ts';
import type { CustomEventBody } from './types.ts';

/**
 * Gainsight PX's documented limits, checked before sending so that a sender gets a clear 400
 * naming the limit instead of a Gainsight round trip.
 * API ref: https://support.gainsight.com/PX/API_for_Developers/02Usage_of_Different_APIs/Use_Custom_Event_API
 */
export const LIMITS = Object.freeze({
  /** Custom event name length. */
  eventNameLength: 2000,
  /** Properties (attributes) per custom event. */
  attributesPerEvent: 50,
  /** Length of one attribute name. */
  attributeNameLength: 1024,
  /**
   * Length of a user or account id. Gainsight documents none; ids longer than this are almost
   * certainly a payload put in the wrong field, and long URLs are refused by proxies.
   */
  idLength: 1024,
});

const limitError = (field: string, message: string): ValidationError =>
  new ValidationError(`${field} ${message}`, { code: 'limit_exceeded', details: { issues: [{ field, message }] } });

/** @throws ValidationError (code `limit_exceeded`) naming the limit a custom event breaks. */
export function checkCustomEventLimits(body: CustomEventBody, nameField = 'event', attributesField = 'properties'): void {
  if (body.eventName.length > LIMITS.eventNameLength) {
    throw limitError(nameField, `makes an event name longer than Gainsight's ${LIMITS.eventNameLength} characters`);
  }
  const names = Object.keys(body.attributes);
  if (names.length > LIMITS.attributesPerEvent) {
    throw limitError(attributesField, `has ${names.length} entries; Gainsight accepts at most ${LIMITS.attributesPerEvent}`);
  }
  if (names.some((name) => name.length > LIMITS.attributeNameLength)) {
    throw limitError(attributesField, `has a name longer than Gainsight's ${LIMITS.attributeNameLength} characters`);
  }
}

/**
 * @throws ValidationError when an id cannot travel as a URL path segment: longer than
 * {@link LIMITS.idLength}, not well-formed Unicode (a lone surrogate cannot be encoded), or `.` /
 * `..`, which URL parsers treat as dot segments even when percent-encoded (`/users/..` → `/`).
 */
export function checkId(id: string, field: string): void {
  if (id.length > LIMITS.idLength) throw limitError(field, `is longer than ${LIMITS.idLength} characters`);
  const problem = !id.isWellFormed() ? 'contains a lone surrogate' : id === '.' || id === '..' ? 'cannot be "." or ".."' : undefined;
  if (problem) {
    throw new ValidationError(`${field} ${problem}`, { details: { issues: [{ field, message: problem }] } });
  }
}
