// The console's service worker (served at /console/sw.js, scope /console): alerts when the console is
// closed, and the console's own files for a start without network.
//
// Push: the server sends one encrypted JSON object per alert (docs/rest-api.md, "Alerts on my devices");
// this shows it in the agent's language, one notification per conversation (a newer alert about the same
// conversation replaces the older one). A click focuses an open console and asks it to open the
// conversation, or opens the console at `#conversation=<id>`.
//
// Cache: only this build's static files (the page, its script and style, the icons, the manifest),
// under a cache named after the build. Nothing under /api or /ws is ever answered from a cache: a
// conversation, a list or a session is always the server's current answer.

import { alertText, conversationUrl, LANG_CACHE, type Alert } from "./alert_text";

declare const PAPOTE_BUILD: string;

interface ExtendableEvent extends Event {
  waitUntil(promise: Promise<unknown>): void;
}
interface PushMessage {
  json(): unknown;
}
interface PushEvent extends ExtendableEvent {
  data: PushMessage | null;
}
interface NotificationClick extends ExtendableEvent {
  notification: Notification;
}
interface FetchEvent extends ExtendableEvent {
  request: Request;
  respondWith(response: Promise<Response>): void;
}
interface SubscriptionChange extends ExtendableEvent {
  oldSubscription: PushSubscription | null;
  newSubscription: PushSubscription | null;
}
interface WindowClient {
  url: string;
  focus(): Promise<WindowClient>;
  postMessage(message: unknown): void;
}
interface Scope {
  registration: ServiceWorkerRegistration;
  clients: {
    matchAll(options: { type: "window"; includeUncontrolled: boolean }): Promise<WindowClient[]>;
    openWindow(url: string): Promise<WindowClient | null>;
    claim(): Promise<void>;
  };
  skipWaiting(): Promise<void>;
  addEventListener(type: string, listener: (event: never) => void): void;
}

const sw = self as unknown as Scope;
const CACHE = `papote-console-${PAPOTE_BUILD}`;
const SHELL = ["/console", "/console/manifest.webmanifest", "/console/icon-192.png", "/console/icon-512.png"];

async function language(): Promise<string> {
  try {
    const saved = await (await caches.open(LANG_CACHE)).match("/console/lang");
    if (saved) return await saved.text();
  } catch {
    // No cache: the browser's language.
  }
  return navigator.language || "en";
}

async function showAlert(event: PushEvent): Promise<void> {
  let alert: Alert;
  try {
    alert = event.data?.json() as Alert;
  } catch {
    return;
  }
  if (!alert || typeof alert.conversation !== "string") return;
  const { title, body } = alertText(alert, await language());
  await sw.registration.showNotification(title, {
    body,
    tag: alert.conversation,
    icon: "/console/icon-192.png",
    data: { conversation: alert.conversation, alert: alert.alert },
    // Not in TypeScript's DOM types yet: a replaced notification about the same chat alerts again.
    ...({ renotify: true, timestamp: alert.ts } as object),
  });
}

async function openConversation(conversation: string): Promise<void> {
  const windows = await sw.clients.matchAll({ type: "window", includeUncontrolled: true });
  const open = windows.find((c) => new URL(c.url).pathname === "/console");
  if (open) {
    open.postMessage({ t: "papote-open", conversation });
    await open.focus();
    return;
  }
  await sw.clients.openWindow(conversationUrl(conversation));
}

sw.addEventListener("push", (event: PushEvent) => event.waitUntil(showAlert(event)));

sw.addEventListener("notificationclick", (event: NotificationClick) => {
  const conversation = (event.notification.data as { conversation?: string } | null)?.conversation;
  event.notification.close();
  if (!conversation) return;
  const opening = openConversation(conversation);
  try {
    event.waitUntil(opening);
  } catch {
    // An event a script dispatched cannot extend the worker's life; the conversation opens all the same.
  }
});

// The push service replaced this browser's subscription: tell the server, with the alerts chosen before.
sw.addEventListener("pushsubscriptionchange", (event: SubscriptionChange) => {
  event.waitUntil(
    (async () => {
      const fresh = event.newSubscription ?? (event.oldSubscription ? await sw.registration.pushManager.subscribe(event.oldSubscription.options) : null);
      if (!fresh) return;
      let alerts: unknown = undefined;
      try {
        const mine = (await (await fetch("/api/me/devices", { credentials: "same-origin" })).json()) as { devices: { endpoint: string; alerts: unknown }[] };
        alerts = mine.devices.find((d) => d.endpoint === event.oldSubscription?.endpoint)?.alerts;
      } catch {
        // Signed out: nothing to move.
      }
      await fetch("/api/me/devices", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...fresh.toJSON(), alerts }),
      });
    })().catch(() => undefined),
  );
});

sw.addEventListener("install", (event: ExtendableEvent) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL))
      .catch(() => undefined)
      .then(() => sw.skipWaiting()),
  );
});

sw.addEventListener("activate", (event: ExtendableEvent) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("papote-console-") && n !== CACHE && n !== LANG_CACHE).map((n) => caches.delete(n))))
      .then(() => sw.clients.claim()),
  );
});

sw.addEventListener("fetch", (event: FetchEvent) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== location.origin) return;
  if (url.pathname === "/console" && request.mode === "navigate") {
    // The page first from the network (a new build, a new session), the copy only when offline.
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (response.ok) void caches.open(CACHE).then((cache) => cache.put("/console", response.clone()));
          return response;
        })
        .catch(async () => (await caches.match("/console")) ?? Response.error()),
    );
    return;
  }
  // This build's files only: their URLs carry the build (?v=) or never change within it.
  const shell = url.pathname.startsWith("/console/") && url.pathname !== "/console/sw.js";
  if (!shell) return;
  event.respondWith(
    caches.open(CACHE).then(async (cache) => {
      const hit = await cache.match(request);
      if (hit) return hit;
      const response = await fetch(request);
      if (response.ok && url.searchParams.get("v") === PAPOTE_BUILD) void cache.put(request, response.clone());
      return response;
    }),
  );
});
