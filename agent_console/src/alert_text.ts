// What an alert from the server says (docs/rest-api.md, "Alerts on my devices") and how it is worded:
// shared by the service worker (sw.ts), which shows it, and the console (push.ts), which keeps the
// language for it. No side effect here: both bundles import it.

import { phoneText, type PhoneKey } from "./i18n_phone";

/** Where the console keeps the language its agent chose (push.ts writes it), for the alerts' words. */
export const LANG_CACHE = "papote-console-prefs";

export interface Alert {
  alert: "new_conversation" | "visitor_reply" | "transfer" | "mention";
  conversation: string;
  site: string;
  visitor: string;
  url: string;
  ts: number;
  body?: string;
  by?: string;
}

/** The title and body an alert is shown with, in `language`. */
export function alertText(alert: Alert, language: string): { title: string; body: string } {
  const say = (key: PhoneKey, vars: Record<string, string> = {}): string => phoneText(language, key, vars);
  const name = alert.visitor || say("pushVisitor");
  const where = alert.site ? say("pushOn", { site: alert.site }) : "";
  switch (alert.alert) {
    case "new_conversation":
      return { title: alert.visitor ? say("pushNewFrom", { name }) : say("pushNew"), body: [alert.body ?? "", where].filter(Boolean).join("\n") };
    case "visitor_reply":
      return { title: say("pushReply", { name }), body: alert.body ?? "" };
    case "mention":
      return { title: say("pushMention", { by: alert.by || say("pushAgent") }), body: alert.body ?? "" };
    default:
      return { title: say("pushTransfer", { by: alert.by ?? "" }), body: [name, where].filter(Boolean).join(" · ") };
  }
}

/** The console URL that opens a conversation (only ever our own page: the payload cannot send us elsewhere). */
export function conversationUrl(conversation: string): string {
  return `/console#conversation=${encodeURIComponent(conversation)}`;
}

