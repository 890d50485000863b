// Moderation in the console: the "Moderation" page (messages the spam filter held, to release or
// delete; the visitors blocked on a site, to unblock), and the block button of the context panel.
// Its strings, and those of NPS (reports.ts, chat.ts), live here in English and French, so i18n.ts
// does not grow with every feature.

import { api, ApiError } from "./api";
import { field, h, mount } from "./dom";
import { type Desk } from "./desk";
import { dateTime, lang } from "./i18n";

const en = {
  moderation: "Moderation",
  held: "Held for review",
  heldHelp: "Visitors' messages the spam filter kept back. Release one to deliver it as it was sent; delete it and nobody sees it.",
  noHeld: "No message is waiting for review.",
  release: "Release",
  remove: "Delete",
  reasons: "Why: {reasons}",
  words: "listed words",
  links: "too many links",
  rate: "too many messages",
  flood: "over the inbound budget (a flood from one address)",
  newConversation: "new conversation",
  blocked: "Blocked visitors",
  noBlocked: "Nobody is blocked on this site.",
  unblock: "Unblock",
  block: "Block visitor",
  blockedBadge: "Blocked",
  blockConfirm: "Block this visitor? Their new messages will not reach the inbox.",
  blockedOn: "Blocked {when}",
  failed: "That did not work: {message}",
  nps: "NPS",
  npsAnswers: "{n} answers · {p} promoters · {d} detractors",
  npsTrend: "NPS over time",
  npsComments: "What they said",
  period: "Period",
  answers: "Answers",
  score: "Score",
  evNps: "NPS survey offered",
  evNpsAnswered: "NPS answer: {score}/10",
  exportCsv: "Export conversations and labels (CSV)",
  exportJson: "(JSON)",
  spamFilter: "Spam filter",
  spamWords: "Words that hold a message for review (one per line)",
  spamMaxLinks: "Most links in one message (empty: no limit)",
  spamRate: "Most messages a minute from one visitor (empty: no limit)",
  npsSurvey: "NPS survey",
  npsOn: "Ask visitors after a conversation closes",
  npsEvery: "Ask one visitor at most every … days",
};

type Key = keyof typeof en;

const fr: Record<Key, string> = {
  moderation: "Modération",
  held: "Retenus pour vérification",
  heldHelp: "Messages de visiteurs retenus par le filtre anti-spam. Libérez-en un pour le remettre tel qu'il a été envoyé ; supprimez-le et personne ne le verra.",
  noHeld: "Aucun message n'attend de vérification.",
  release: "Libérer",
  remove: "Supprimer",
  reasons: "Motif : {reasons}",
  words: "mots de la liste",
  links: "trop de liens",
  rate: "trop de messages",
  flood: "au-delà du budget d'entrée (un afflux depuis une adresse)",
  newConversation: "nouvelle conversation",
  blocked: "Visiteurs bloqués",
  noBlocked: "Personne n'est bloqué sur ce site.",
  unblock: "Débloquer",
  block: "Bloquer le visiteur",
  blockedBadge: "Bloqué",
  blockConfirm: "Bloquer ce visiteur ? Ses nouveaux messages n'arriveront plus dans la boîte de réception.",
  blockedOn: "Bloqué {when}",
  failed: "Cela n'a pas marché : {message}",
  nps: "NPS",
  npsAnswers: "{n} réponses · {p} promoteurs · {d} détracteurs",
  npsTrend: "NPS dans le temps",
  npsComments: "Ce qu'ils en disent",
  period: "Période",
  answers: "Réponses",
  score: "Score",
  evNps: "Enquête NPS proposée",
  evNpsAnswered: "Réponse NPS : {score}/10",
  exportCsv: "Exporter les conversations et étiquettes (CSV)",
  exportJson: "(JSON)",
  spamFilter: "Filtre anti-spam",
  spamWords: "Mots qui retiennent un message pour vérification (un par ligne)",
  spamMaxLinks: "Nombre maximal de liens par message (vide : sans limite)",
  spamRate: "Nombre maximal de messages par minute d'un visiteur (vide : sans limite)",
  npsSurvey: "Enquête NPS",
  npsOn: "Interroger les visiteurs après la fin d'une conversation",
  npsEvery: "Interroger un même visiteur au plus tous les … jours",
};

export function mt(key: Key, vars: Record<string, string> = {}): string {
  const table = lang === "fr" ? fr : en;
  return table[key].replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? vars[name] : whole));
}

interface Held {
  id: string;
  conversation: string | null;
  visitor: string;
  author_name: string;
  body: string;
  reasons: ("words" | "links" | "rate" | "flood")[];
  created_at: number;
}

interface Block {
  visitor: string;
  reason: string;
  created_at: number;
}

/** "That did not work: …", with the server's reason when it gave one. */
function failedText(err: unknown): string {
  return mt("failed", { message: err instanceof ApiError ? err.message : String(err) });
}

/** When the blocks of a site were last asked for without an answer yet (or with a failure), per site. */
const blocksFailedAt = new Map<string, number>();
const BLOCKS_RETRY_MS = 30_000;

/** The last block or unblock that failed, per visitor: said beside the button until the next try. */
const blockFailed = new Map<string, string>();

/** Who is blocked, per site key, as last read: the context panel's button reads it. */
const blockedBySite = new Map<string, Set<string>>();

async function loadBlocks(site: string): Promise<Block[]> {
  const { blocks } = await api<{ blocks: Block[] }>("GET", `/api/sites/${encodeURIComponent(site)}/blocks`);
  blockedBySite.set(site, new Set(blocks.map((b) => b.visitor)));
  return blocks;
}

let chosen = "";

export async function renderModeration(main: HTMLElement, desk: Desk): Promise<void> {
  if (!chosen || !desk.sites.some((s) => s.key === chosen)) chosen = desk.sites[0]?.key ?? "";
  const redraw = (): void => void renderModeration(main, desk);
  const select = h(
    "select",
    { attrs: { "aria-label": "Site" }, on: { change: () => ((chosen = select.value), redraw()) } },
    desk.sites.map((s) => h("option", { attrs: { value: s.key }, props: { selected: s.key === chosen } }, s.name)),
  );
  const status = h("p", { class: "form-error", attrs: { role: "alert" } });
  const heldBox = h("section", { class: "held", attrs: { "aria-label": mt("held") } });
  const blockedBox = h("section", { class: "blocked", attrs: { "aria-label": mt("blocked") } });
  mount(main, h("div", { class: "moderation" }, h("h1", null, mt("moderation")), h("div", { class: "row" }, select), status, heldBox, blockedBox));
  if (!chosen) return;
  const base = `/api/sites/${encodeURIComponent(chosen)}`;
  const act = async (method: string, path: string): Promise<void> => {
    try {
      await api(method, base + path);
      redraw();
    } catch (err) {
      status.textContent = failedText(err);
    }
  };
  let held: Held[], blocks: Block[];
  try {
    [{ held }, blocks] = await Promise.all([api<{ held: Held[] }>("GET", `${base}/held`), loadBlocks(chosen)]);
  } catch (err) {
    // Empty lists would read as "nothing held, nobody blocked": say why there is nothing instead.
    status.textContent = failedText(err);
    return;
  }
  mount(
    heldBox,
    h("h2", null, mt("held")),
    h("p", { class: "muted small" }, mt("heldHelp")),
    held.length
      ? h(
          "ul",
          { class: "held-list" },
          held.map((m) =>
            h(
              "li",
              { attrs: { "data-held": m.id } },
              h("div", { class: "held-body" }, m.body),
              h(
                "div",
                { class: "muted small" },
                `${m.author_name || m.visitor} · ${dateTime(m.created_at)} · ${m.conversation ? m.conversation : mt("newConversation")} · `,
                mt("reasons", { reasons: m.reasons.map((r) => mt(r)).join(", ") }),
              ),
              h(
                "div",
                { class: "row" },
                h("button", { class: "primary", attrs: { type: "button" }, on: { click: () => void act("POST", `/held/${m.id}/release`) } }, mt("release")),
                h("button", { attrs: { type: "button" }, on: { click: () => void act("DELETE", `/held/${m.id}`) } }, mt("remove")),
              ),
            ),
          ),
        )
      : h("p", { class: "muted" }, mt("noHeld")),
  );
  mount(
    blockedBox,
    h("h2", null, mt("blocked")),
    blocks.length
      ? h(
          "ul",
          { class: "blocked-list" },
          blocks.map((b) =>
            h(
              "li",
              { attrs: { "data-visitor": b.visitor } },
              h("span", null, desk.visitors.get(b.visitor)?.name || b.visitor),
              h("span", { class: "muted small" }, ` · ${mt("blockedOn", { when: dateTime(b.created_at) })}${b.reason ? " · " + b.reason : ""} `),
              h("button", { attrs: { type: "button" }, on: { click: () => void act("DELETE", `/blocks/${b.visitor}`) } }, mt("unblock")),
            ),
          ),
        )
      : h("p", { class: "muted" }, mt("noBlocked")),
  );
}

/** The context panel's block / unblock button for the visitor of a conversation of site `site`. */
export function blockButton(site: string, visitor: string, redraw: () => void): HTMLElement {
  const known = blockedBySite.get(site);
  if (!known) {
    // Read once per site, then kept up to date by this button and the moderation page. A read that
    // failed is tried again at a redraw BLOCKS_RETRY_MS later, not at every one (each message redraws).
    if (Date.now() - (blocksFailedAt.get(site) ?? 0) >= BLOCKS_RETRY_MS) {
      blocksFailedAt.set(site, Date.now());
      void loadBlocks(site).then(() => (blocksFailedAt.delete(site), redraw()), () => undefined);
    }
    return h("span");
  }
  const blocked = known.has(visitor);
  const base = `/api/sites/${encodeURIComponent(site)}/blocks`;
  const button = h(
    "button",
    {
      class: blocked ? "block-visitor" : "block-visitor danger",
      attrs: { type: "button", "aria-pressed": String(blocked) },
      on: {
        click: async () => {
          if (!blocked && !confirm(mt("blockConfirm"))) return;
          button.disabled = true;
          blockFailed.delete(visitor);
          try {
            if (blocked) await api("DELETE", `${base}/${encodeURIComponent(visitor)}`);
            else await api("POST", base, { visitor });
          } catch (err) {
            blockFailed.set(visitor, failedText(err));
            redraw();
            return;
          }
          // Done: the button shows it even if the read below fails, which refreshes the blocks of others.
          if (blocked) known.delete(visitor);
          else known.add(visitor);
          await loadBlocks(site).catch(() => undefined);
          redraw();
        },
      },
    },
    blocked ? mt("unblock") : mt("block"),
  );
  const failed = blockFailed.get(visitor);
  return h(
    "div",
    { class: "row block-row" },
    blocked ? h("span", { class: "badge blocked" }, mt("blockedBadge")) : null,
    button,
    failed ? h("p", { class: "form-error", attrs: { role: "alert" } }, failed) : null,
  );
}

export interface ModerationSettings {
  spam_words?: string[];
  spam_max_links?: number | null;
  spam_rate?: number | null;
  nps_enabled?: boolean;
  nps_every_days?: number;
}

/** The site settings form's fieldsets of the spam filter and the NPS survey (admin.ts). */
export function moderationSettings(s: ModerationSettings): { root: HTMLElement; read: () => ModerationSettings } {
  const words = h("textarea", { attrs: { rows: 3 }, props: { value: (s.spam_words ?? []).join("\n") } });
  const links = h("input", { attrs: { type: "number", min: 0, max: 1000 }, props: { value: s.spam_max_links == null ? "" : String(s.spam_max_links) } });
  const rate = h("input", { attrs: { type: "number", min: 0, max: 1000 }, props: { value: s.spam_rate == null ? "" : String(s.spam_rate) } });
  const nps = h("input", { attrs: { type: "checkbox" }, props: { checked: s.nps_enabled === true } });
  const every = h("input", { attrs: { type: "number", min: 1, max: 3650 }, props: { value: String(s.nps_every_days ?? 90) } });
  const limit = (input: HTMLInputElement): number | null => (input.value.trim() === "" ? null : Math.max(0, Math.round(Number(input.value))));
  return {
    root: h(
      "div",
      null,
      h("fieldset", null, h("legend", null, mt("spamFilter")), field(mt("spamWords"), words, "site-spam-words"), h("div", { class: "grid2" }, field(mt("spamMaxLinks"), links, "site-spam-links"), field(mt("spamRate"), rate, "site-spam-rate"))),
      h("fieldset", null, h("legend", null, mt("npsSurvey")), h("label", null, nps, " ", mt("npsOn")), field(mt("npsEvery"), every, "site-nps-every")),
    ),
    read: () => ({
      spam_words: [...new Set(words.value.split("\n").map((w) => w.trim()).filter(Boolean))],
      spam_max_links: limit(links),
      spam_rate: limit(rate),
      nps_enabled: nps.checked,
      nps_every_days: Math.min(3650, Math.max(1, Math.round(Number(every.value) || 90))),
    }),
  };
}
