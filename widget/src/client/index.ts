// The protocol client's public surface, shared by the visitor widget and the agent console.
// UI-free: it moves frames, keeps the timeline and the outbox, and reports through events.
export { BACKOFF_BASE_MS, BACKOFF_CAP_MS, backoffDelay } from "./backoff";
export {
  type Clock,
  Connection,
  type ConnectionEvents,
  type ConnectionOptions,
  ConnectionState,
  type DeliveryState,
  PONG_TIMEOUT_MS,
  socketUrl,
} from "./connection";
export * from "./frames";
export { MemoryOutboxStore, Outbox, type OutboxItem, type OutboxStore, newClientMsgId } from "./outbox";
export { type KeyValueStore, MemoryStore, SiteStorage, StorageKey, bestStore } from "./storage";
export { type ConversationView, Timeline } from "./timeline";
