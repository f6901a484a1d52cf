/** Pure mapping: parsed event → Gainsight PX request bodies. No I/O, no logging, no globals. */
export * from './common.ts';
export * from './user.ts';
export * from './account.ts';
export * from './custom-event.ts';
