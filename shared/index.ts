export * from './api.js';
export * from './constants.js';
export * from './errors.js';
export * from './events.js';
export * from './rooms.js';
export * from './schemas.js';
export * from './signature.js';
export * from './webhooks.js';
