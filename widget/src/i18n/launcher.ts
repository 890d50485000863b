// The few strings the loader's bubble needs; kept apart from the panel's so the loader stays small.
import type { Locale } from "./locale";

export interface LauncherStrings {
  openChat: string;
  closeChat: string;
  unread: string;
}

export const launcherStrings: Record<Locale, LauncherStrings> = {
  en: { openChat: "Open chat", closeChat: "Close chat", unread: "{n} unread" },
  fr: { openChat: "Ouvrir le chat", closeChat: "Fermer le chat", unread: "{n} non lu(s)" },
};
