/** The schema builders live in the kernel so protocol declarations can use them; re-exported here. */
export * from '../kernel/json-schema.ts';
