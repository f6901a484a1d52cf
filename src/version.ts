import pkg from '../package.json' with { type: 'json' };

/** The relay's version, as released (package.json). */
export const VERSION: string = pkg.version;
