// The vocabulary of docs/protocol.md as TypeScript types. Field names are the wire names, so a
// frame decoded from MessagePack can be used as is. Only what a client reads is typed precisely;
// the agent console extends these with its own frames (presence, visitor…).

export const PROTOCOL_VERSION = 1;

export type AuthorKind = "visitor" | "agent" | "system" | "bot";

export interface Author {
  kind: AuthorKind;
  id: string;
  name: string;
  avatar?: string | null;
}

export type MessageKind = "text" | "note" | "event";

export interface Message {
  conversation: string;
  seq: number;
  ts: number;
  kind: MessageKind;
  author: Author;
  body: string;
  client_msg_id?: string | null;
  event?: string | null;
  data?: Record<string, unknown> | null;
  /** Files sent with the message, in the order shown (docs/protocol.md, "Attachments"). */
  attachments?: Attachment[];
}

export interface Attachment {
  id: string;
  kind: "image" | "file";
  content_type: string;
  size: number;
  name: string;
  width: number | null;
  height: number | null;
  thumbnail: boolean;
}

export interface QueueInfo {
  position: number;
  wait_secs: number | null;
}

export interface Conversation {
  id: string;
  site: string;
  status: "open" | "closed";
  assignee?: Author | null;
  last_seq: number;
  read_seq: number;
  peer_read_seq: number;
  unread: number;
  queue?: QueueInfo | null;
  labels?: string[];
  created_at: number;
  updated_at: number;
  last_message?: Message | null;
}

/** A site owner's proactive rule (welcome.site.rules). */
export interface ProactiveRule {
  id: string;
  trigger: "url" | "time_on_page" | "event";
  url?: string;
  seconds?: number;
  event?: string;
  condition?: { field: string; op: ">" | ">=" | "<" | "<=" | "=="; value: unknown };
  message: string;
}

/** A site's texts in one language (welcome.site.translations); a missing text is the default one. */
export interface SiteTranslation {
  greeting?: string;
  away?: string;
  /** Rule id → its message in this language. */
  rules?: Record<string, string>;
}

export interface SiteInfo {
  name: string;
  color?: string | null;
  position?: "right" | "left" | null;
  greeting?: string | null;
  /** The owner's away text; empty: the widget's own words. */
  away?: string | null;
  /** Two-letter language code → the site's texts in that language. */
  translations?: Record<string, SiteTranslation> | null;
  /** Free text set by the owner ("a few minutes"), or seconds when computed. */
  reply_time?: string | number | null;
  locale?: string | null;
  hours?: unknown;
  open_now?: boolean;
  /** When the site opens next (ms since epoch), nil when open or unknown. */
  next_open?: number | null;
  agents_online?: number;
  launcher_icon?: string | null;
  rules?: ProactiveRule[];
  /** The owner's extra CSS for the widget (applied inside its shadow root). */
  custom_css?: string | null;
  /** The owner lets the widget store its token before the visitor interacts. */
  storage?: "consent" | "always" | null;
  /** The widget's colour scheme: auto follows the visitor's system. */
  theme?: "auto" | "light" | "dark" | null;
  /** What the site accepts as attachments (absent from an older server: none). */
  attachments?: { max_bytes: number; types: string[] };
  /** The server emails agents' unread replies to the visitor (a relay is configured and the site wants it). */
  email_continuation?: boolean;
  /** The server sends mail: a visitor may ask for the transcript (the `transcript` frame). */
  email_transcripts?: boolean;
  /** The pre-chat form (also the away form): what it asks, and the topics offered. */
  prechat?: { enabled: boolean; name: "off" | "optional" | "required"; email: "off" | "optional" | "required"; topics: { id: string; label: string }[] };
}

export interface VisitorInfo {
  id: string;
  name: string;
  email: string;
  verified: boolean;
}

export interface PageInfo {
  url: string;
  title: string;
  referrer?: string;
}

export type Ref = number | string;

// ---- server → client ----

export interface WelcomeFrame {
  t: "welcome";
  v: number;
  epoch: string;
  token?: string;
  visitor?: VisitorInfo;
  site?: SiteInfo;
  conversations: Conversation[];
  /** The site's proactive rules already shown to this visitor, on any device. */
  fired?: string[];
  heartbeat: number;
  max_body?: number;
  [extra: string]: unknown;
}
export interface HistoryFrame {
  t: "history";
  conversation: string;
  recovered: boolean;
  messages: Message[];
  more: boolean;
  last_seq: number;
}
export interface AckFrame {
  t: "ack";
  ref?: Ref;
  client_msg_id: string;
  conversation: string;
  seq: number;
  ts: number;
}
export interface MessageFrame extends Message {
  t: "message";
}
export interface ConversationFrame {
  t: "conversation";
  conversation: Conversation;
}
export interface TypingFrame {
  t: "typing";
  conversation: string;
  author: Author;
  on: boolean;
}
export interface ReadFrame {
  t: "read";
  conversation: string;
  reader: Author;
  seq: number;
}
export interface QueueFrame {
  t: "queue";
  conversation: string;
  position: number;
  wait_secs: number | null;
}
export interface AvailabilityFrame {
  t: "availability";
  agents_online: number;
  open_now: boolean;
}
export interface IdentifiedFrame {
  t: "identified";
  visitor: VisitorInfo;
  token: string;
  /** This client was verified as another user: nothing of that person's (conversations, unsent
   * messages, token) is ours any more. */
  switched: boolean;
  conversations: Conversation[];
  fired?: string[];
}
/** The answer to `redeem`: this socket continues as the visitor who asked for the code. */
export interface LinkedFrame extends Omit<IdentifiedFrame, "t"> {
  t: "linked";
}
export interface LinkFrame {
  t: "link";
  code: string;
  expires_at: number;
  /** The page's link with the code, when the `link` frame named the page. */
  url?: string;
  /** Its QR code: an SVG path of the dark modules in a `size`×`size` box (quiet zone included). */
  qr?: { size: number; path: string };
}
export interface OkFrame {
  t: "ok";
  ref?: Ref;
}
export interface PongFrame {
  t: "pong";
  n?: number;
}
export interface ErrorFrame {
  t: "error";
  code: string;
  message: string;
  ref?: Ref;
  frame?: string;
}

export type ServerFrame =
  | WelcomeFrame
  | HistoryFrame
  | AckFrame
  | MessageFrame
  | ConversationFrame
  | TypingFrame
  | ReadFrame
  | QueueFrame
  | AvailabilityFrame
  | IdentifiedFrame
  | LinkedFrame
  | LinkFrame
  | OkFrame
  | PongFrame
  | ErrorFrame;

// ---- client → server ----

/** Any client frame: a map with `t`. The client module does not restrict the set, so the
 * agent console can send its own frames (claim, assign…) through the same connection. */
export interface ClientFrame {
  t: string;
  ref?: Ref;
  [field: string]: unknown;
}

export interface SendFrame extends ClientFrame {
  t: "send";
  conversation: string | null;
  client_msg_id: string;
  /** Left out when the message is only files. */
  body?: string;
  /** The proactive rule whose message this one answers. */
  answers?: string;
  /** A tap on a quick reply: which option of which message (docs/protocol.md §3.1). */
  quick_reply?: { seq: number; option: number };
  /** Agents: buttons offered under the message. */
  quick_replies?: { label: string; value?: string }[];
  /** Ids of files uploaded first. */
  attachments?: string[];
  /** Console: the agents a private note mentions (with `note: true` only). */
  mentions?: string[];
}

/** Close codes after which reconnecting cannot help until something changes (docs/protocol.md §1). */
export const FINAL_CLOSE_CODES: ReadonlySet<number> = new Set([4001, 4003, 4004, 4005, 4010, 4013]);

export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  badHello: 4000,
  unauthorized: 4001,
  originNotAllowed: 4003,
  siteNotFound: 4004,
  versionUnsupported: 4005,
  rateLimited: 4008,
  slowConsumer: 4009,
  sessionRevoked: 4010,
  idle: 4011,
  membershipChanged: 4012,
} as const;
