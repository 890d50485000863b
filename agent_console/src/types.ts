// What the agent side of the protocol adds to the shared frames (docs/protocol.md §4).

import type { Author, Conversation, Message } from "../../widget/src/client/frames";

export type AgentStatus = "online" | "away" | "offline";

export interface SiteRef {
  id: string;
  key: string;
  name: string;
  role: "owner" | "admin" | "agent";
}

export interface AgentPresence extends Author {
  status: AgentStatus;
  capacity: number;
  load: number;
  sites?: Record<string, string>;
}

export interface Page {
  url?: string;
  title?: string;
  referrer?: string;
  at?: number;
}

export interface VisitorFull {
  id: string;
  name: string;
  email: string;
  verified: boolean;
  page?: Page | null;
  pages?: Page[];
  device?: { tz?: string; lang?: string; screen?: string; ua?: string; [k: string]: unknown } | null;
  attributes?: Record<string, unknown>;
  created_at?: number;
  last_seen?: number;
  user_id?: string | null;
}

export interface TrackedEvent {
  name: string;
  data?: Record<string, unknown> | null;
  at: number;
}

/** A conversation summary as agents get it. */
export interface AgentConversation extends Conversation {
  visitor?: { id: string; name: string; email: string; verified: boolean; channel?: string } | null;
  site_id?: string;
  rating?: number | null;
  rating_comment?: string;
  contact_email?: string;
  /** Set aside until then (ms), out of the open queues; null or absent when not snoozed. */
  snoozed_until?: number | null;
}

/** Whether a conversation is snoozed: set aside by an agent until a time (it is still open). */
export function isSnoozed(c: AgentConversation): boolean {
  return c.status === "open" && !!c.snoozed_until;
}

export interface AgentWelcome {
  t: "welcome";
  agent: Author & { email: string; status: AgentStatus; capacity: number };
  sites: SiteRef[];
  conversations: AgentConversation[];
  agents: AgentPresence[];
  epoch: string;
  heartbeat: number;
  max_body?: number;
}

export interface PresenceFrame {
  t: "presence";
  agent: AgentPresence;
}

export interface VisitorFrame {
  t: "visitor";
  visitor: VisitorFull;
  online: boolean;
  event?: { name: string; data?: Record<string, unknown>; at?: number };
}

export interface CannedResponse {
  id: string;
  shortcut: string;
  body: string;
}

export type { Author, Conversation, Message };
