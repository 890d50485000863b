import assert from "node:assert/strict";
import { test } from "node:test";
import type { Conversation, Message, SiteInfo } from "../src/client/frames";
import type { ConversationView } from "../src/client/timeline";
import { siteTexts, pickLanguage } from "../src/panel/texts";
import { RECENT_THREAD_MS, byActivity, lastText, resolveScreen, threadUnread } from "../src/panel/threads";

const NOW = 1_800_000_000_000;

function conv(id: string, status: "open" | "closed", agoMs: number, extra: Partial<Conversation> = {}): Conversation {
  const at = NOW - agoMs;
  return { id, site: "pk", status, last_seq: 3, read_seq: 0, peer_read_seq: 0, unread: 0, created_at: at, updated_at: at, ...extra };
}

function msg(seq: number, who: "visitor" | "agent", kind: "text" | "event" = "text", body = `m${seq}`): Message {
  return { conversation: "c1", seq, ts: seq, kind, author: { kind: who, id: who, name: "" }, body };
}

test("a new visitor, or one whose first message waits, writes a new conversation", () => {
  assert.deepEqual(resolveScreen({ kind: "auto" }, [], NOW, false), { kind: "new" });
  assert.deepEqual(resolveScreen({ kind: "list" }, [], NOW, false), { kind: "new" });
  assert.deepEqual(resolveScreen({ kind: "auto" }, [conv("c1", "closed", 1000)], NOW, true), { kind: "new" });
});

test("a recent open conversation is taken up; an old or closed one waits in the list", () => {
  const recent = conv("c1", "open", RECENT_THREAD_MS - 1000);
  const old = conv("c2", "open", RECENT_THREAD_MS + 1000);
  const closed = conv("c3", "closed", 1000);
  assert.deepEqual(resolveScreen({ kind: "auto" }, [old, recent, closed], NOW, false), { kind: "thread", id: "c1" });
  assert.deepEqual(resolveScreen({ kind: "auto" }, [old, closed], NOW, false), { kind: "list" });
  // The visitor's pick holds, whatever is recent.
  assert.deepEqual(resolveScreen({ kind: "list" }, [recent], NOW, false), { kind: "list" });
  assert.deepEqual(resolveScreen({ kind: "thread", id: "c3" }, [recent, closed], NOW, false), { kind: "thread", id: "c3" });
  assert.deepEqual(resolveScreen({ kind: "new" }, [recent], NOW, false), { kind: "new" });
  // A thread that is no longer ours (another person identified) falls back to the rule.
  assert.deepEqual(resolveScreen({ kind: "thread", id: "gone" }, [closed], NOW, false), { kind: "list" });
});

test("threads are listed most recently active first", () => {
  const list = byActivity([conv("a", "closed", 5000), conv("b", "open", 10), conv("c", "closed", 900)]);
  assert.deepEqual(list.map((c) => c.id), ["b", "c", "a"]);
});

test("unread replies and the preview of a thread", () => {
  const view: ConversationView = {
    id: "c1",
    summary: conv("c1", "open", 0, { read_seq: 2, unread: 7 }),
    messages: [msg(1, "visitor"), msg(2, "agent"), msg(3, "agent"), msg(4, "visitor"), msg(5, "agent", "event")],
    lastSeq: 5,
    more: false,
    synced: true,
  };
  assert.equal(threadUnread(view), 1, "only the agent's text after read_seq");
  assert.equal(lastText(view)?.seq, 4, "events are not previewed");
  // Before its history arrives, the summary's counts stand.
  const waiting: ConversationView = { ...view, messages: [], synced: false, summary: conv("c1", "open", 0, { unread: 2, last_message: msg(9, "agent") }) };
  assert.equal(threadUnread(waiting), 2);
  assert.equal(lastText(waiting)?.seq, 9);
});

test("the site's texts in the visitor's language, else the default", () => {
  const site: SiteInfo = {
    name: "Shop",
    greeting: "Hi!",
    away: "",
    translations: { fr: { greeting: "Bonjour !", rules: { cart: "Livraison offerte" } }, de: { away: "Wir sind weg." } },
  };
  const rule = { id: "cart", trigger: "event" as const, event: "add_to_cart", message: "Free shipping" };
  const other = { ...rule, id: "promo", message: "Sale" };
  const fr = siteTexts(site, ["fr", "fr-FR"]);
  assert.equal(fr.greeting, "Bonjour !");
  assert.equal(fr.away, "", "no French away text and no default: the widget's own words");
  assert.equal(fr.rule(rule), "Livraison offerte");
  assert.equal(fr.rule(other), "Sale");
  const de = siteTexts(site, ["en", "de-AT"]);
  assert.equal(de.greeting, "Hi!");
  assert.equal(de.away, "Wir sind weg.");
  const en = siteTexts(site, ["en", "en-US"]);
  assert.equal(en.greeting, "Hi!");
  assert.equal(en.rule(rule), "Free shipping");
  assert.equal(pickLanguage({ fr: 1 }, [null, "FR_ca"]), "fr");
  assert.equal(pickLanguage({ fr: 1 }, ["en"]), null);
  assert.equal(siteTexts(null, ["fr"]).greeting, "");
});
