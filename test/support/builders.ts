import { DEFAULT_SETTINGS, type Settings } from '../../src/config/settings.ts';
import {
  type GroupEvent,
  IdentifyEvent,
  PageEvent,
  ScreenEvent,
  TrackEvent,
  parseEvent,
} from '../../src/events/index.ts';
import type { MappingContext } from '../../src/mapping/index.ts';

/**
 * Test builders: a valid event of each type, with `overrides` spread over it (an override of
 * `undefined` removes a field), parsed by the real schemas so tests get the real types.
 * Overrides are raw input, so a test can pass whatever a sender could.
 */

export const TEST_PRODUCT_KEY = 'AP-TEST-1';
/** `timestamp` of every built event: 2024-01-02T03:04:05.678Z. */
export const TEST_TIMESTAMP = '2024-01-02T03:04:05.678Z';
export const TEST_TIMESTAMP_MS = Date.UTC(2024, 0, 2, 3, 4, 5, 678);

type Overrides = Record<string, unknown>;

const common = {
  messageId: 'message-1',
  userId: 'user-1',
  timestamp: TEST_TIMESTAMP,
};

export const makeIdentify = (overrides: Overrides = {}): IdentifyEvent =>
  IdentifyEvent.parse({ ...common, type: 'identify', traits: {}, ...overrides });

export const makeGroup = (overrides: Overrides = {}): GroupEvent =>
  parseEvent({ ...common, type: 'group', groupId: 'group-1', traits: { name: 'ECorp' }, ...overrides }) as GroupEvent;

export const makeTrack = (overrides: Overrides = {}): TrackEvent =>
  TrackEvent.parse({ ...common, type: 'track', event: 'Report Exported', ...overrides });

export const makePage = (overrides: Overrides = {}): PageEvent =>
  PageEvent.parse({ ...common, type: 'page', ...overrides });

export const makeScreen = (overrides: Overrides = {}): ScreenEvent =>
  ScreenEvent.parse({ ...common, type: 'screen', ...overrides });

/** A mapping context with product key `AP-TEST-1` and default settings unless overridden. */
export const makeContext = (settingsOverrides: Partial<Settings> = {}): MappingContext => ({
  settings: { ...DEFAULT_SETTINGS, ...settingsOverrides },
  productKey: TEST_PRODUCT_KEY,
});
