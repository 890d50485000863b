// Alerts on this device when the console is closed (Web Push): the service worker's registration, the
// Notifications section of the account page (which alerts, this device on or off, my other devices),
// and forgetting this device at sign-out so a shared computer stops showing someone else's chats.

import { api } from "./api";
import { h, mount } from "./dom";
import { dateTime, lang } from "./i18n";
import { phoneText, type PhoneKey } from "./i18n_phone";
import { LANG_CACHE } from "./alert_text";

const ALERTS = ["new_conversation", "visitor_reply", "transfer", "mention"] as const;
type AlertName = (typeof ALERTS)[number];
type Alerts = Record<AlertName, boolean>;
const ALERT_LABEL: Record<AlertName, PhoneKey> = {
  new_conversation: "alertNewConversation",
  visitor_reply: "alertVisitorReply",
  transfer: "alertTransfer",
  mention: "alertMention",
};

interface Device {
  id: string;
  endpoint: string;
  label: string;
  created_at: number;
  alerts: Alerts;
}

const tp = (key: PhoneKey, vars: Record<string, string | number> = {}): string => phoneText(lang, key, vars);

export function pushSupported(): boolean {
  return "serviceWorker" in navigator && "PushManager" in window && typeof Notification !== "undefined";
}

/** Registers the service worker (installability, alerts) and hands the conversations a notification
 * click asks for to `open`. Safe to call before sign-in. */
export function registerWorker(open: (conversation: string) => void): void {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/console/sw.js", { scope: "/console" }).catch(() => undefined);
  navigator.serviceWorker.addEventListener("message", (event: MessageEvent) => {
    const data = event.data as { t?: string; conversation?: unknown } | null;
    if (data?.t === "papote-open" && typeof data.conversation === "string") open(data.conversation);
  });
  rememberLanguage();
}

/** The service worker words alerts in the language the agent chose here. */
export function rememberLanguage(): void {
  if (typeof caches === "undefined") return;
  void caches
    .open(LANG_CACHE)
    .then((cache) => cache.put("/console/lang", new Response(lang)))
    .catch(() => undefined);
}

/** Closes the alerts about a conversation the agent now has in front of them. */
export function dismissAlerts(conversation: string): void {
  if (!("serviceWorker" in navigator)) return;
  void navigator.serviceWorker.getRegistration("/console").then((reg) => reg?.getNotifications({ tag: conversation }).then((list) => list.forEach((n) => n.close())));
}

async function registration(): Promise<ServiceWorkerRegistration | null> {
  if (!("serviceWorker" in navigator)) return null;
  return (await navigator.serviceWorker.getRegistration("/console")) ?? null;
}

async function thisSubscription(): Promise<PushSubscription | null> {
  try {
    return (await (await registration())?.pushManager.getSubscription()) ?? null;
  } catch {
    return null;
  }
}

/** "Phone · Chrome": what the agent will recognise in their list of devices. */
function deviceLabel(): string {
  const ua = navigator.userAgent;
  const kind = /Mobi|Android|iPhone|iPad/.test(ua) ? tp("phone") : tp("computer");
  const browser = /Edg\//.test(ua) ? "Edge" : /Firefox\//.test(ua) ? "Firefox" : /Chrome\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : "";
  return browser ? `${kind} · ${browser}` : kind;
}

function base64UrlToBytes(text: string): ArrayBuffer {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4);
  const raw = atob(b64);
  const out = new ArrayBuffer(raw.length);
  const view = new Uint8Array(out);
  for (let i = 0; i < raw.length; i++) view[i] = raw.charCodeAt(i);
  return out;
}

/** Sign-out: this browser stops alerting the agent who leaves it. */
export async function forgetThisDevice(): Promise<void> {
  const sub = await thisSubscription();
  if (!sub) return;
  try {
    const { devices } = await api<{ devices: Device[] }>("GET", "/api/me/devices");
    const mine = devices.find((d) => d.endpoint === sub.endpoint);
    if (mine) await api("DELETE", `/api/me/devices/${encodeURIComponent(mine.id)}`);
  } catch {
    // The server forgets it at the first push anyway, once unsubscribed below.
  }
  await sub.unsubscribe().catch(() => undefined);
}

/** The Notifications section of the account page. */
export function notificationsSection(): HTMLElement {
  const root = h("section", { class: "card notifications", attrs: { "aria-labelledby": "notifications-title" } });
  void drawNotifications(root, "");
  return root;
}

async function drawNotifications(root: HTMLElement, message: string): Promise<void> {
  const title = h("h2", { attrs: { id: "notifications-title" } }, tp("notifications"));
  const status = h("p", { class: "form-status", attrs: { role: "status" } }, message);
  const redraw = (text = ""): void => void drawNotifications(root, text);
  const failed = (err: unknown): void => {
    status.textContent = tp("subscribeFailed", { message: err instanceof Error ? err.message : String(err) });
    status.classList.add("form-error");
  };
  if (!pushSupported()) {
    mount(root, title, h("p", { class: "muted" }, tp("noPush")));
    return;
  }
  let key: string | null;
  let devices: Device[];
  try {
    [{ public_key: key }, { devices }] = await Promise.all([
      api<{ public_key: string | null }>("GET", "/api/push/key"),
      api<{ devices: Device[] }>("GET", "/api/me/devices"),
    ]);
  } catch (err) {
    mount(root, title, status);
    failed(err);
    return;
  }
  if (!key) {
    mount(root, title, h("p", { class: "muted" }, tp("pushDisabled")));
    return;
  }
  const sub = await thisSubscription();
  const here = sub ? (devices.find((d) => d.endpoint === sub.endpoint) ?? null) : null;
  // A kind the device's record does not have yet is on, as the server counts it (new kinds start on).
  const chosen: Alerts = { new_conversation: true, visitor_reply: true, transfer: true, mention: true, ...here?.alerts };
  const boxes = ALERTS.map((name) => {
    const box = h("input", {
      attrs: { type: "checkbox", id: `alert-${name}` },
      props: { checked: chosen[name] },
      on: {
        change: () => {
          chosen[name] = box.checked;
          if (here) {
            api("PATCH", `/api/me/devices/${encodeURIComponent(here.id)}`, { alerts: { [name]: box.checked } }).catch((err: unknown) => {
              box.checked = chosen[name] = !box.checked; // not saved: the box shows what is
              failed(err);
            });
          }
        },
      },
    });
    return h("label", { class: "check", attrs: { for: `alert-${name}` } }, box, h("span", null, tp(ALERT_LABEL[name])));
  });
  const turnOn = async (): Promise<void> => {
    if ((await Notification.requestPermission()) !== "granted") {
      redraw(tp("permissionDenied"));
      return;
    }
    const reg = await navigator.serviceWorker.ready;
    const fresh = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64UrlToBytes(key as string) });
    await api("POST", "/api/me/devices", { ...fresh.toJSON(), label: deviceLabel(), alerts: chosen });
    redraw(tp("alertsOn"));
  };
  const turnOff = async (): Promise<void> => {
    if (here) await api("DELETE", `/api/me/devices/${encodeURIComponent(here.id)}`);
    await sub?.unsubscribe();
    redraw(tp("alertsOff"));
  };
  const others = devices.filter((d) => d !== here);
  mount(
    root,
    title,
    h("p", { class: "muted" }, tp("notificationsHelp")),
    h("fieldset", { class: "alerts" }, h("legend", null, here ? tp("alertsOn") : tp("alertsOff")), boxes),
    here
      ? h("button", { attrs: { type: "button" }, on: { click: () => void turnOff().catch(failed) } }, tp("turnOff"))
      : h("button", { class: "primary", attrs: { type: "button" }, on: { click: () => void turnOn().catch(failed) } }, tp("turnOn")),
    status,
    others.length
      ? h(
          "div",
          { class: "devices" },
          h("h3", null, tp("otherDevices")),
          h(
            "ul",
            { class: "sites" },
            others.map((d) => {
              const label = d.label || tp("deviceUnknown");
              return h(
                "li",
                { attrs: { "data-device": d.id } },
                `${label} · ${dateTime(d.created_at)} `,
                h(
                  "button",
                  {
                    attrs: { type: "button", "aria-label": tp("turnOffDevice", { label }) },
                    on: { click: () => void api("DELETE", `/api/me/devices/${encodeURIComponent(d.id)}`).then(() => redraw(), failed) },
                  },
                  tp("turnOffShort"),
                ),
              );
            }),
          ),
        )
      : null,
  );
}
