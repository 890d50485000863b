// Getting the visitor's attention when a reply arrives and they are not looking: the unread
// count in the tab title, a short beep, and a system notification if they already allowed them
// (we never ask: a permission prompt from a chat bubble is the kind of thing people hate).

import { playTones } from "../client/tones";

let baseTitle: string | null = null;
let ourTitle: string | null = null;
let audio: AudioContext | null = null;

export function showTitleCount(count: number): void {
  if (count > 0 && document.visibilityState === "hidden") {
    // The page may have changed its own title since we last touched it (an SPA route change).
    if (ourTitle === null || document.title !== ourTitle) baseTitle = document.title;
    ourTitle = `(${count}) ${baseTitle}`;
    document.title = ourTitle;
  } else if (ourTitle !== null) {
    if (document.title === ourTitle && baseTitle !== null) document.title = baseTitle;
    ourTitle = baseTitle = null;
  }
}

/** Two short sine tones made on the fly: no audio file to download. Browsers only let a page
 * play sound after a user gesture; when they refuse, the beep is silently skipped. */
export function beep(): void {
  try {
    const Ctor = window.AudioContext || (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
    if (!Ctor) return;
    audio = audio || new Ctor();
    if (audio.state === "suspended") void audio.resume().catch(() => undefined);
    playTones(audio, [660, 880], 0.15, 0.12);
  } catch {
    // No sound is fine.
  }
}

export function notify(title: string, body: string, onClick: () => void): void {
  try {
    if (typeof Notification === "undefined" || Notification.permission !== "granted") return;
    const notification = new Notification(title, { body, tag: "papote" });
    notification.onclick = () => {
      window.focus();
      onClick();
      notification.close();
    };
  } catch {
    // Some browsers only allow notifications from a service worker.
  }
}
