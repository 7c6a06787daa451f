import { MemoryPresenceStore } from '../../server/presence/memory.js';
import { presenceStoreContract } from '../contract/presence-store.contract.js';

presenceStoreContract('memory', { create: async () => new MemoryPresenceStore() });
