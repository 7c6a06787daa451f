import { MemoryPresenceStore } from '../../server/backends/memory/presence.js';
import { presenceStoreContract } from '../contract/presence-store.contract.js';

presenceStoreContract('memory', { create: async () => new MemoryPresenceStore() });
