export * from './api.js';
export * from './constants.js';
export * from './errors.js';
export * from './events.js';
export * from './rooms.js';
export * from './schemas.js';
export * from './signature.js';
export * from './webhooks.js';
// issue 14 proxies: request and answer bodies of CONNECT/JOIN/PUBLISH proxies
export * from './proxies.js';
