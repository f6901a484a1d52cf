import type { JsonRecord } from '../events/common.ts';
import type { Location } from '../gainsight/types.ts';
import { toNumber, toText } from './convert.ts';
import { readField } from './read.ts';

/** Location string fields, each read from the flat trait of the same name. */
const LOCATION_TEXT_KEYS = [
  'countryName',
  'countryCode',
  'stateName',
  'stateCode',
  'city',
  'street',
  'postalCode',
  'continent',
  'regionName',
  'timeZone',
] as const satisfies readonly (keyof Location)[];

/**
 * Gainsight's `location` from FLAT trait keys (`traits.city`, `traits.latitude`), as the peer
 * maps it; `undefined` when nothing is there, so no empty object is sent.
 */
export function mapLocation(bags: readonly (JsonRecord | undefined)[]): Location | undefined {
  const location: Location = {};
  for (const key of LOCATION_TEXT_KEYS) {
    const value = readField(bags, [key], toText);
    if (value !== undefined) location[key] = value;
  }
  const latitude = readField(bags, ['latitude'], toNumber);
  const longitude = readField(bags, ['longitude'], toNumber);
  if (latitude !== undefined || longitude !== undefined) {
    location.coordinates = {
      ...(latitude !== undefined && { latitude }),
      ...(longitude !== undefined && { longitude }),
    };
  }
  return Object.keys(location).length > 0 ? location : undefined;
}
