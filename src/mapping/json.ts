import { ValidationError } from '../errors.ts';

/**
 * `JSON.stringify` that never throws anything but a {@link ValidationError}: a hostile, deeply
 * nested value overflows the stack (RangeError), a cycle or BigInt is a TypeError. The message
 * names the field only, never the value (it may carry personal data).
 */
export function safeJson(value: unknown, field: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw notEncodable(field, error);
  }
  if (text === undefined) throw notEncodable(field, undefined);
  return text;
}

const notEncodable = (field: string, cause: unknown): ValidationError =>
  new ValidationError(`${field} cannot be encoded as JSON`, {
    cause,
    details: { issues: [{ field, message: 'cannot be encoded as JSON' }] },
  });
