/** Pure mapping: parsed event → Gainsight PX request bodies. No I/O, no logging, no globals. */
export * from './context.ts';
export * from './read.ts';
export * from './convert.ts';
export * from './event-fields.ts';
export * from './json.ts';
export * from './objects.ts';
export * from './location.ts';
export * from './user.ts';
export * from './account.ts';
export * from './custom-event.ts';
