import { isRecord, type JsonRecord } from '../events/common.ts';
import type { PageEvent, ScreenEvent } from '../events/page.ts';
import type { TrackEvent } from '../events/track.ts';
import type { CustomEventBody } from '../gainsight/types.ts';
import type { MappingContext } from './context.ts';
import { toEpochMs, toId, toText } from './convert.ts';
import { safeJson } from './json.ts';
import { fromPairs } from './objects.ts';
import { firstConverted, ownRecord, ownValue, traitBags } from './read.ts';

/** Keys as long as this are cut in error messages: the field name must stay readable. */
const MAX_FIELD_NAME = 64;

const asString = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** Session ids go through as sent (the peer sends RudderStack's numeric ids as numbers). */
const asSessionId = (value: unknown): string | number | undefined =>
  typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value)) ? value : undefined;

/**
 * Custom event attributes: every own property except `globalContext`. Gainsight attributes are
 * flat, so objects, arrays and null become JSON text (`null` → `"null"`), as the peer does.
 *
 * @throws ValidationError when a value cannot be JSON-encoded (e.g. nested too deeply).
 */
function mapAttributes(properties: JsonRecord | undefined): Record<string, unknown> {
  if (properties === undefined) return {};
  return fromPairs(
    Object.keys(properties)
      .filter((key) => key !== 'globalContext')
      .map((key): [string, unknown] => {
        const value = properties[key];
        return [
          key,
          typeof value === 'object' ? safeJson(value, `properties.${key.slice(0, MAX_FIELD_NAME)}`) : value,
        ];
      }),
  );
}

/**
 * `properties.globalContext` when it is a non-empty object (it replaces the settings entirely,
 * no merge), else the settings' static global context; `undefined` when both are empty.
 */
function mapGlobalContext(
  properties: JsonRecord | undefined,
  ctx: MappingContext,
): Record<string, unknown> | undefined {
  const fromEvent = ownValue(properties, 'globalContext');
  if (isRecord(fromEvent) && Object.keys(fromEvent).length > 0) {
    return fromPairs(Object.keys(fromEvent).map((key) => [key, fromEvent[key]]));
  }
  return settingsGlobalContext(ctx.settings.globalContext);
}

const globalContexts = new WeakMap<MappingContext['settings']['globalContext'], Readonly<Record<string, unknown>> | undefined>();

/** The settings' static global context as an object, built once per settings value (frozen: shared). */
function settingsGlobalContext(
  pairs: MappingContext['settings']['globalContext'],
): Readonly<Record<string, unknown>> | undefined {
  if (globalContexts.has(pairs)) return globalContexts.get(pairs);
  const built = fromPairs(pairs);
  const value = Object.keys(built).length > 0 ? Object.freeze(built) : undefined;
  globalContexts.set(pairs, value);
  return value;
}

/** The fields a track and a forwarded page/screen share, given the resolved event name. */
function mapCustomEvent(
  event: TrackEvent | PageEvent | ScreenEvent,
  eventName: string,
  ctx: MappingContext,
  userId: string,
  pageFallback: boolean,
): CustomEventBody {
  const properties = event.properties ?? undefined;
  const page = ownRecord(event.context, 'page');
  const [traits, contextTraits] = traitBags(event);
  const fromPage = (key: string): string | undefined =>
    firstConverted([ownValue(page, key), pageFallback ? ownValue(properties, key) : undefined], asString);

  const date = firstConverted(
    [ownValue(properties, 'date'), event.timestamp, event.originalTimestamp],
    toEpochMs,
  );
  const sessionId = firstConverted(
    [ownValue(properties, 'sessionId'), ownValue(event.context, 'sessionId')],
    asSessionId,
  );
  const url = fromPage('url');
  const referrer = fromPage('referrer');
  const accountId = firstConverted([ownValue(traits, 'groupId'), ownValue(contextTraits, 'groupId')], toId);
  const globalContext = mapGlobalContext(properties, ctx);

  // Assigned field by field, in the order Gainsight's examples show: this runs once per event,
  // and a literal with conditional spreads costs several times more.
  const body: Partial<CustomEventBody> = { eventName, identifyId: userId };
  if (date !== undefined) body.date = date;
  if (sessionId !== undefined) body.sessionId = sessionId;
  if (url !== undefined) body.url = url;
  if (referrer !== undefined) body.referrer = referrer;
  if (accountId !== undefined) body.accountId = accountId;
  body.attributes = mapAttributes(properties);
  if (globalContext !== undefined) body.globalContext = globalContext;
  body.propertyKey = ctx.productKey;
  body.userType = 'USER';
  return body as CustomEventBody;
}

/**
 * The body of `POST /events/custom` for a track (docs/http-contract.md).
 *
 * @throws ValidationError when a property value cannot be JSON-encoded.
 */
export function mapTrack(event: TrackEvent, ctx: MappingContext, userId: string): CustomEventBody {
  return mapCustomEvent(event, event.event, ctx, userId, false);
}

/**
 * The body of `POST /events/custom` for a page or screen call, used only when the `pageEvents`
 * setting is on: `Viewed <name> Page` / `Viewed <name> Screen`, or `Viewed Page` /
 * `Viewed Screen` without a name. url/referrer fall back to `properties.url`/`.referrer`, where
 * the page spec puts them.
 *
 * @throws ValidationError when a property value cannot be JSON-encoded.
 */
export function mapPage(event: PageEvent | ScreenEvent, ctx: MappingContext, userId: string): CustomEventBody {
  const kind = event.type === 'screen' ? 'Screen' : 'Page';
  const name = firstConverted([event.name, ownValue(event.properties, 'name')], (value) => {
    const text = toText(value)?.trim();
    return text === '' ? undefined : text;
  });
  const eventName = name === undefined ? `Viewed ${kind}` : `Viewed ${name} ${kind}`;
  return mapCustomEvent(event, eventName, ctx, userId, true);
}
