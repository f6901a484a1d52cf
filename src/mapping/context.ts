import type { Settings } from '../config/settings.ts';

/** What every mapper needs besides the event: the settings and the Gainsight product key. */
export interface MappingContext {
  settings: Settings;
  productKey: string;
}
