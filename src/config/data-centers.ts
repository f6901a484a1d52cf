/**
 * Gainsight PX REST API base URLs per data center.
 * API ref: https://px-apidocs.gainsight.com/ (servers; EU and US2 hosts)
 */
export const DATA_CENTERS = ['US', 'EU', 'US2'] as const;
export type DataCenter = (typeof DATA_CENTERS)[number];

export const BASE_URLS: Readonly<Record<DataCenter, string>> = Object.freeze({
  US: 'https://api.aptrinsic.com/v1',
  EU: 'https://api-eu.aptrinsic.com/v1',
  US2: 'https://api-us2.aptrinsic.com/v1',
});

/** `GAINSIGHT_PX_BASE_URL` wins over the data center (tests, proxies); no trailing slash. */
export function baseUrlFor(dataCenter: DataCenter, override?: string): string {
  const url = override && override.trim() !== '' ? override.trim() : BASE_URLS[dataCenter];
  return url.replace(/\/+$/, '');
}
