import { MemoryPresenceStore } from '../../server/backends/memory/presence.js';
import { membershipContract } from '../contract/membership.contract.js';

membershipContract('memory', { create: async () => new MemoryPresenceStore() });
