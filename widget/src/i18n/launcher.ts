// The few strings the loader's bubble needs; kept apart from the panel's so the loader stays small.
import type { Locale } from "./locale";

export interface LauncherStrings {
  openChat: string;
  closeChat: string;
  unread: string;
  /** Consent mode (docs/privacy.md): the prompt shown before anything is stored or connected. */
  consent: string;
  consentYes: string;
  consentNo: string;
}

export const launcherStrings: Record<Locale, LauncherStrings> = {
  en: {
    openChat: "Open chat",
    closeChat: "Close chat",
    unread: "{n} unread",
    consent: "To chat, this site keeps an identifier in your browser and connects to its chat service.",
    consentYes: "Accept and chat",
    consentNo: "Not now",
  },
  fr: {
    openChat: "Ouvrir le chat",
    closeChat: "Fermer le chat",
    unread: "{n} non lu(s)",
    consent: "Pour discuter, ce site garde un identifiant dans votre navigateur et se connecte à son service de chat.",
    consentYes: "Accepter et discuter",
    consentNo: "Pas maintenant",
  },
};
