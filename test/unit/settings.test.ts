import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, type ParsedSettings, parseSettings } from '../../src/config/settings.ts';
import { ConfigurationError } from '../../src/errors.ts';
import { PEER_CASES_PATH, loadPeerCases, peerCasesMissing } from '../support/peer-cases.ts';

/** A RudderStack Gainsight PX destination config, as its dashboard saves it (overridable). */
const makeRudderConfig = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  apiKey: 'rudder-api-key-VALUE-1234',
  productTagKey: 'AP-SECRETPRODUCT-2',
  dataCenter: 'US',
  userAttributeMap: [{ from: '', to: '' }],
  accountAttributeMap: [{ from: '', to: '' }],
  globalContextMap: [{ from: '', to: '' }],
  eventDelivery: false,
  eventDeliveryTS: 10,
  ...overrides,
});

/** Runs parseSettings and returns the ConfigurationError it must throw. */
const configurationErrorOf = (raw: unknown): ConfigurationError => {
  try {
    parseSettings(raw);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return error as ConfigurationError;
  }
  throw new Error('expected parseSettings to throw a ConfigurationError');
};

/** Everything about an error a sender or a log could see. */
const visibleText = (error: ConfigurationError): string => `${error.message} ${JSON.stringify(error.details ?? null)}`;

const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype'] as const;

describe('parseSettings: a RudderStack destination config pasted as-is', () => {
  it('accepts the config with blank mapping rows and yields the defaults', () => {
    // Prepare
    const raw = JSON.stringify(makeRudderConfig());
    // Act
    const { settings } = parseSettings(raw);
    // Assess
    expect(settings).toEqual({
      dataCenter: 'US',
      userAttributeMap: [],
      accountAttributeMap: [],
      globalContext: [],
      pageEvents: false,
    });
  });

  it('warns that apiKey and productTagKey are ignored', () => {
    // Act
    const { warnings } = parseSettings(JSON.stringify(makeRudderConfig()));
    // Assess
    expect(warnings).toHaveLength(2);
    expect(warnings.some((warning) => warning.includes('apiKey'))).toBe(true);
    expect(warnings.some((warning) => warning.includes('productTagKey'))).toBe(true);
  });

  it('never puts the value of apiKey or productTagKey in a warning', () => {
    // Act
    const { warnings } = parseSettings(makeRudderConfig());
    // Assess
    const text = warnings.join('\n');
    expect(text).not.toContain('rudder-api-key-VALUE-1234');
    expect(text).not.toContain('SECRETPRODUCT');
  });

  it('does not warn when the settings carry no secret keys', () => {
    // Act
    const { warnings } = parseSettings({ dataCenter: 'EU' });
    // Assess
    expect(warnings).toEqual([]);
  });

  it('ignores unknown keys', () => {
    // Act
    const { settings } = parseSettings({ pageEvents: true, somethingNew: { nested: [1, 2] }, eventDeliveryTS: 'x' });
    // Assess
    expect(settings).toEqual({ ...DEFAULT_SETTINGS, pageEvents: true });
  });

  it('maps a filled-in RudderStack config to the same settings', () => {
    // Prepare
    const raw = makeRudderConfig({
      dataCenter: 'EU',
      userAttributeMap: [{ from: 'plan', to: 'planName' }, { from: '', to: '' }],
      accountAttributeMap: [{ from: 'tier', to: 'accountTier' }],
      globalContextMap: [{ from: 'env', to: 'production' }],
    });
    // Act
    const { settings } = parseSettings(JSON.stringify(raw));
    // Assess
    expect(settings).toEqual({
      dataCenter: 'EU',
      userAttributeMap: [['plan', 'planName']],
      accountAttributeMap: [['tier', 'accountTier']],
      globalContext: [['env', 'production']],
      pageEvents: false,
    });
  });
});

const peerCases = loadPeerCases();
const peerConfigs = [...new Map((peerCases ?? []).map((peer) => [JSON.stringify(peer.destinationConfig), peer])).values()];

/** `[{from, to}]` rows with a non-blank `from`, as pairs. */
const filledRows = (rows: unknown): [string, string][] =>
  ((rows ?? []) as { from: string; to: string }[]).filter((row) => row.from.trim() !== '').map((row) => [row.from, row.to]);

const PEER_SUITE = `parseSettings: every destination config of ${PEER_CASES_PATH}`;

if (peerCases === undefined) peerCasesMissing(PEER_SUITE);

describe.runIf(peerCases !== undefined)(PEER_SUITE, () => {
  it.each(peerConfigs.map((peer) => [peer.name, peer] as const))('accepts the config of %s as-is', (_name, peer) => {
    // Prepare
    const config = peer.destinationConfig;
    // Act
    const { settings, warnings } = parseSettings(JSON.stringify(config));
    // Assess
    expect(settings.userAttributeMap).toEqual(filledRows(config.userAttributeMap));
    expect(settings.accountAttributeMap).toEqual(filledRows(config.accountAttributeMap));
    expect(settings.globalContext).toEqual(filledRows(config.globalContextMap));
    expect(warnings).toHaveLength(2);
    for (const secret of [config.apiKey, config.productTagKey]) {
      expect(warnings.join('\n')).not.toContain(String(secret));
    }
  });
});

describe('parseSettings: no settings', () => {
  it.each([
    ['undefined', undefined],
    ['null', null],
    ['an empty string', ''],
    ['a blank string', '  \n\t '],
    ['JSON null', 'null'],
    ['an empty object', '{}'],
  ])('yields the defaults for %s', (_label, raw) => {
    // Act
    const parsed: ParsedSettings = parseSettings(raw);
    // Assess
    expect(parsed.settings).toEqual({
      dataCenter: 'US',
      userAttributeMap: [],
      accountAttributeMap: [],
      globalContext: [],
      pageEvents: false,
    });
    expect(parsed.warnings).toEqual([]);
  });
});

describe('parseSettings: dataCenter', () => {
  it.each([
    ['US', 'US'],
    ['EU', 'EU'],
    ['US2', 'US2'],
    ['eu', 'EU'],
    ['us2', 'US2'],
    ['Us2', 'US2'],
    [' EU ', 'EU'],
  ] as const)('accepts "%s" as %s', (given, expected) => {
    // Act
    const { settings } = parseSettings({ dataCenter: given });
    // Assess
    expect(settings.dataCenter).toBe(expected);
  });

  it('accepts RudderStack\'s per-source form {"web": "EU"}', () => {
    // Act
    const { settings } = parseSettings('{"dataCenter": {"web": "EU"}}');
    // Assess
    expect(settings.dataCenter).toBe('EU');
  });

  it('accepts several sources that agree, whatever their case', () => {
    // Act
    const { settings } = parseSettings({ dataCenter: { web: 'us2', android: 'US2', ios: ' Us2 ' } });
    // Assess
    expect(settings.dataCenter).toBe('US2');
  });

  it('rejects sources that name different data centers', () => {
    // Act
    const error = configurationErrorOf({ dataCenter: { web: 'EU', android: 'US' } });
    // Assess
    expect(error.statusCode).toBe(503);
    expect(error.message).toContain('dataCenter');
  });

  it('rejects an unknown data center, naming the key without echoing the value', () => {
    // Act
    const error = configurationErrorOf({ dataCenter: 'mars-secret-7' });
    // Assess
    expect(error.statusCode).toBe(503);
    expect(error.message).toContain('dataCenter');
    expect(visibleText(error)).not.toContain('mars-secret-7');
  });
});

describe('parseSettings: attribute maps', () => {
  it.each(['userAttributeMap', 'accountAttributeMap'] as const)('reads %s given as [{from, to}] rows', (key) => {
    // Act
    const { settings } = parseSettings({
      [key]: [
        { from: 'plan', to: 'planName' },
        { from: 'seats', to: 'seatCount' },
      ],
    });
    // Assess
    expect(settings[key]).toEqual([
      ['plan', 'planName'],
      ['seats', 'seatCount'],
    ]);
  });

  it.each(['userAttributeMap', 'accountAttributeMap'] as const)('reads %s given as a {from: to} object', (key) => {
    // Act
    const { settings } = parseSettings(JSON.stringify({ [key]: { plan: 'planName', seats: 'seatCount' } }));
    // Assess
    expect(settings[key]).toEqual([
      ['plan', 'planName'],
      ['seats', 'seatCount'],
    ]);
  });

  it('skips rows whose from is blank or missing', () => {
    // Act
    const { settings } = parseSettings({
      userAttributeMap: [{ from: '', to: '' }, { from: '  ', to: 'x' }, { to: 'y' }, { from: 'plan', to: 'planName' }],
    });
    // Assess
    expect(settings.userAttributeMap).toEqual([['plan', 'planName']]);
  });

  it('trims the attribute name a key maps to', () => {
    // Act
    const { settings } = parseSettings({ userAttributeMap: [{ from: 'plan', to: '  planName ' }] });
    // Assess
    expect(settings.userAttributeMap).toEqual([['plan', 'planName']]);
  });

  it('rejects a row that maps a key to no attribute name, naming the map', () => {
    // Act
    const error = configurationErrorOf({ userAttributeMap: [{ from: 'plan', to: '' }] });
    // Assess
    expect(error.statusCode).toBe(503);
    expect(error.message).toContain('userAttributeMap');
  });

  it('rejects a non-text attribute name without echoing it', () => {
    // Act
    const error = configurationErrorOf({ accountAttributeMap: { tier: { hidden: 'value-XYZZY' } } });
    // Assess
    expect(error.message).toContain('accountAttributeMap');
    expect(visibleText(error)).not.toContain('value-XYZZY');
  });

  it.each(PROTOTYPE_KEYS)('keeps a %s key from the object form as a plain pair', (name) => {
    // Prepare
    const raw = `{"userAttributeMap": {"${name}": "protoAttr", "plan": "planName"}}`;
    // Act
    const { settings } = parseSettings(raw);
    // Assess
    expect(settings.userAttributeMap).toEqual([
      [name, 'protoAttr'],
      ['plan', 'planName'],
    ]);
  });

  it.each(PROTOTYPE_KEYS)('keeps a %s key from the row form as a plain pair', (name) => {
    // Act
    const { settings } = parseSettings({ accountAttributeMap: [{ from: name, to: 'protoAttr' }] });
    // Assess
    expect(settings.accountAttributeMap).toEqual([[name, 'protoAttr']]);
  });

  it('leaves Object.prototype untouched by __proto__ keys in every map', () => {
    // Prepare
    const raw =
      '{"userAttributeMap": {"__proto__": "polluted"}, "accountAttributeMap": [{"from": "__proto__", "to": "polluted"}],' +
      ' "globalContextMap": {"__proto__": {"polluted": "yes"}}, "__proto__": {"polluted": "yes"}}';
    // Act
    parseSettings(raw);
    // Assess
    expect(Object.prototype).not.toHaveProperty('polluted');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('parseSettings: globalContextMap', () => {
  it('reads [{from, to}] rows as key → value pairs, skipping blank rows', () => {
    // Act
    const { settings } = parseSettings({
      globalContextMap: [
        { from: '', to: '' },
        { from: 'env', to: 'production' },
        { from: 'region', to: 'eu-west-1' },
      ],
    });
    // Assess
    expect(settings.globalContext).toEqual([
      ['env', 'production'],
      ['region', 'eu-west-1'],
    ]);
  });

  it('reads a {key: value} object, keeping non-text values', () => {
    // Act
    const { settings } = parseSettings({ globalContextMap: { env: 'production', shard: 3, beta: true } });
    // Assess
    expect(settings.globalContext).toEqual([
      ['env', 'production'],
      ['shard', 3],
      ['beta', true],
    ]);
  });

  it('keeps a __proto__ key as a plain pair', () => {
    // Act
    const { settings } = parseSettings('{"globalContextMap": {"__proto__": "x", "constructor": "y"}}');
    // Assess
    expect(settings.globalContext).toEqual([
      ['__proto__', 'x'],
      ['constructor', 'y'],
    ]);
  });

  it('rejects a map that is neither rows nor an object, naming the key', () => {
    // Act
    const error = configurationErrorOf({ globalContextMap: 'env=production' });
    // Assess
    expect(error.message).toContain('globalContextMap');
    expect(visibleText(error)).not.toContain('env=production');
  });
});

describe('parseSettings: pageEvents', () => {
  it.each([true, false])('reads pageEvents %s', (value) => {
    // Act
    const { settings } = parseSettings({ pageEvents: value });
    // Assess
    expect(settings.pageEvents).toBe(value);
  });

  it('rejects pageEvents given as text, naming the key without echoing the value', () => {
    // Act
    const error = configurationErrorOf({ pageEvents: 'sure-thing' });
    // Assess
    expect(error.statusCode).toBe(503);
    expect(error.message).toContain('pageEvents');
    expect(visibleText(error)).not.toContain('sure-thing');
  });
});

describe('parseSettings: invalid settings', () => {
  it('rejects text that is not JSON with a 503 ConfigurationError that does not echo it', () => {
    // Act
    const error = configurationErrorOf('{"apiKey": "leaky-key-42",');
    // Assess
    expect(error.statusCode).toBe(503);
    expect(error.code).toBe('configuration_error');
    expect(error.retryable).toBe(true);
    expect(visibleText(error)).not.toContain('leaky-key-42');
  });

  it.each([
    ['a JSON array', '[{"from": "a", "to": "b"}]'],
    ['a JSON number', '42'],
    ['a JSON string', '"EU"'],
    ['a parsed array', [] as unknown],
    ['a number', 7],
    ['a boolean', true],
  ])('rejects %s as not an object', (_label, raw) => {
    // Act
    const error = configurationErrorOf(raw);
    // Assess
    expect(error.statusCode).toBe(503);
    expect(error.message).toMatch(/object/i);
  });

  it.each([
    ['userAttributeMap', 'plan:planName'],
    ['accountAttributeMap', 12345],
    ['userAttributeMap', [{ from: 99, to: 'x' }]],
    ['dataCenter', 12],
    ['pageEvents', 1],
  ])('rejects a wrong type for %s, naming it', (key, value) => {
    // Act
    const error = configurationErrorOf({ [key]: value });
    // Assess
    expect(error.message).toContain(key);
  });

  it('does not echo a secret carried beside an invalid setting', () => {
    // Act
    const error = configurationErrorOf(makeRudderConfig({ pageEvents: 'nope' }));
    // Assess
    expect(visibleText(error)).not.toContain('rudder-api-key-VALUE-1234');
    expect(visibleText(error)).not.toContain('SECRETPRODUCT');
  });
});

afterEach(() => {
  // A failed prototype test must not leak into the others.
  delete (Object.prototype as Record<string, unknown>).polluted;
});
