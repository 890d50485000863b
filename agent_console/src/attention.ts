// Getting an agent's attention: desktop notifications, a short sound and the unread count in the tab
// title. A missed message is the complaint agents make most about chat consoles, so all three fire
// for new conversations and for new messages in chats that are mine (or waiting for anyone).

import { playTones } from "../../widget/src/client/tones";
import { t } from "./i18n";

const BASE_TITLE = "Papote";
let audio: AudioContext | null = null;

/** Browsers only let a page make sound after a user gesture: the first click unlocks it. */
export function unlockSound(): void {
  if (audio) return;
  const Ctx = window.AudioContext ?? (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
  if (!Ctx) return;
  try {
    audio = new Ctx();
  } catch {
    audio = null;
  }
}

/** Two short notes (no audio file to fetch, nothing for the CSP to allow). */
export function chime(): void {
  if (!audio) return;
  try {
    playTones(audio, [880, 1320], 0.2, 0.3);
  } catch {
    // Sound is a nicety.
  }
}

export function notificationsAvailable(): boolean {
  return typeof Notification !== "undefined" && Notification.permission === "default";
}

export async function askNotifications(): Promise<void> {
  if (typeof Notification === "undefined") return;
  try {
    await Notification.requestPermission();
  } catch {
    // Old Safari takes a callback; without permission we still have sound and title.
  }
}

/** A desktop notification when the console is not in front of the agent; clicking it opens the chat. */
export function notify(title: string, body: string, tag: string, onClick: () => void): void {
  if (typeof Notification === "undefined" || Notification.permission !== "granted") return;
  if (document.visibilityState === "visible" && document.hasFocus()) return;
  try {
    const n = new Notification(title, { body: body.slice(0, 200), tag });
    n.onclick = () => {
      window.focus();
      onClick();
      n.close();
    };
  } catch {
    // Some platforms only allow notifications from a service worker.
  }
}

export function setTitleCount(count: number): void {
  const title = count > 0 ? `(${count}) ${BASE_TITLE}` : BASE_TITLE;
  if (document.title !== title) document.title = title;
}

export function notificationTitle(kind: "new" | "message", name: string): string {
  return kind === "new" ? t("newConversation") : t("newMessage", { name });
}
