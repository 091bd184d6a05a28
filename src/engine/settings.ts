/** Keys of the server state kept in the store's settings table. */
export const PAUSED_KEY = 'queue.paused';
export const INSTANCE_KEY = 'server.instance_id';
