// The panel bundle: loaded by the loader on demand, it opens the visitor's connection and draws
// the chat. It registers itself with the loader through `Papote._attach`.

import type { Message } from "../client/frames";
import { format } from "../i18n/locale";
import { panelStrings } from "../i18n/panel";
import type { LoaderHost, MountPanel, PanelApi } from "../loader/host";
import { spoken } from "./attachments";
import { beep, notify, showTitleCount } from "./attention";
import { VisitorSession } from "./session";
import { emojiCss } from "./emoji";
import { quickRepliesCss } from "./quick_replies";
import { panelCss } from "./style";
import { PanelView } from "./view";

const mount: MountPanel = (host: LoaderHost): PanelApi => {
  host.addCss(panelCss + quickRepliesCss + emojiCss);

  const session = new VisitorSession(host);
  const view = new PanelView(host, session);

  session.onChanged(() => {
    view.draw();
    // The title count is only for replies the visitor has not seen: drawn from the same number.
    showTitleCount(session.unread());
  });
  document.addEventListener("visibilitychange", () => showTitleCount(session.unread()));

  session.onProactive = () => view.open(false, false);

  // The owner's theme, scoped to our shadow root like the rest of our CSS, and after it so it wins.
  const setCustomCss = host.addCss("");
  session.onSite = (site) => setCustomCss(site.custom_css || "");

  // The last seq this page heard of in each conversation. A reply is new to the visitor when it came
  // live, or in a resume's history past what the page had: written while the page was offline, or
  // while the server answered the resume that follows a new conversation's first ack (it holds the
  // live frame back meanwhile, and the reply comes once, in the history).
  const heard = new Map<string, number>();
  session.conn.on("message", ({ message, live }) => {
    const prev = heard.get(message.conversation);
    if (prev === undefined || message.seq > prev) heard.set(message.conversation, message.seq);
    const fresh = live || (prev !== undefined && message.seq > prev);
    if (!fresh || message.kind !== "text" || message.author.kind === "visitor") return;
    replyArrived(message);
  });

  session.conn.on("rejected", ({ item, error }) => {
    // Held for review: shown as waiting, until an agent releases it (then it arrives as a message).
    if (error.code === "held") session.held.push(item);
    // A second tap on answered quick replies: the first answer is in the conversation, nothing to show.
    else if (error.code !== "answered") session.rejected.push(item);
    if (error.code === "blocked") session.blocked = true;
    view.draw();
  });

  function replyArrived(message: Message): void {
    const t = panelStrings[host.locale];
    const name = message.author.name || t.agent;
    host.emit("message", {
      conversation: message.conversation,
      seq: message.seq,
      body: message.body,
      author: { kind: message.author.kind, name: message.author.name },
    });
    const body = spoken(message);
    if (view.isOpen) view.announce(format(t.newMessage, { name, body }));
    const unseen = !view.visible;
    if (unseen && host.settings.sound !== false) beep();
    if (document.visibilityState === "hidden") {
      notify(format(t.notification, { site: session.site?.name || "" }), body, () => view.open());
    }
  }

  session.start();

  return {
    command(name, args) {
      switch (name) {
        case "open":
          view.open();
          break;
        case "close":
          view.close();
          break;
        case "toggle":
          view.toggle();
          break;
        case "identify":
          if (isRecord(args[0])) session.identify(args[0]);
          break;
        case "set":
          if (isRecord(args[0])) session.set(args[0]);
          break;
        case "track":
          if (typeof args[0] === "string") session.track(args[0], isRecord(args[1]) ? args[1] : undefined);
          break;
        case "reset":
          session.reset();
          break;
        case "redeem":
          // Only the loader calls this (a link opened in this tab); page code cannot reach it.
          if (typeof args[0] === "string") session.redeem(args[0]);
          break;
      }
    },
    setLocale() {
      view.applyStrings();
    },
  };
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const papote = (window as unknown as { Papote?: { _attach?: (m: MountPanel) => void } }).Papote;
if (papote && typeof papote._attach === "function") papote._attach(mount);
