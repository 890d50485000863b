// The bot's editor in site settings (docs/bot.md): the tree as a form — one card per step, its kind's
// fields, where each button or branch goes chosen from the steps there are — the FAQ entries, and a live
// preview that runs the server's own stepper on the unsaved draft (POST /api/sites/{key}/bot/preview).
// What is saved is `settings.bot`, the JSON the REST API takes.

import { api } from "./api";
import { type BotKey, bt } from "./bot_texts";
import { field, h, mount } from "./dom";
import { statusLine } from "./form_status";
import { t } from "./i18n";

type Kind = "message" | "buttons" | "question" | "faq" | "branch" | "handover" | "end";
const KINDS: Kind[] = ["message", "buttons", "question", "faq", "branch", "handover", "end"];

export interface BotNode {
  id: string;
  kind: Kind;
  text?: string;
  next?: string | null;
  options?: { label: string; next: string }[];
  field?: "email" | "name" | "order";
  on?: "open" | "agents_online" | "page" | "language";
  value?: string;
  yes?: string | null;
  no?: string | null;
  group?: string | null;
}

export interface BotSetting {
  enabled: boolean;
  name: string;
  start: string;
  nodes: BotNode[];
  faq: { id?: string; question: string; keywords: string[]; answer: string }[];
  handover_words: string[];
  texts: Record<string, string>;
}

interface Output {
  kind: "say" | "handover" | "remember" | "resolved";
  text?: string;
  options?: { label: string; value: string }[];
  reason?: string;
  field?: string;
  value?: string;
}

let made = 0;

/** The fields a node of `kind` keeps (the others are dropped when its kind changes). */
function reshape(node: BotNode, kind: Kind): BotNode {
  const out: BotNode = { id: node.id, kind };
  if (kind !== "branch") out.text = node.text ?? "";
  if (kind === "message" || kind === "question" || kind === "faq") out.next = node.next ?? null;
  if (kind === "buttons") out.options = node.options ?? [];
  if (kind === "question") out.field = node.field ?? "email";
  if (kind === "branch") Object.assign(out, { on: node.on ?? "open", value: node.value ?? "", yes: node.yes ?? null, no: node.no ?? null });
  if (kind === "handover") out.group = node.group ?? null;
  return out;
}

export function botSection(initial: BotSetting | undefined, path: string): HTMLElement {
  const bot: BotSetting = JSON.parse(JSON.stringify(initial ?? {})) as BotSetting;
  bot.nodes ??= [];
  bot.faq ??= [];
  bot.handover_words ??= [];
  bot.texts ??= {};
  const enabled = h("input", { attrs: { type: "checkbox" }, props: { checked: bot.enabled === true } });
  const name = h("input", { attrs: { type: "text", maxlength: 60 }, props: { value: bot.name || "Bot" } });
  const start = h("select", null);
  const nodes = h("ol", { class: "rules bot-nodes" });
  const faq = h("ol", { class: "rules bot-faq" });
  const words = h("input", { attrs: { type: "text" }, props: { value: bot.handover_words.join(", ") } });
  const status = statusLine();
  const uid = `bot-${++made}`;

  const ids = (): string[] => bot.nodes.map((n) => n.id).filter(Boolean);
  const targetSelect = (value: string | null | undefined, label: string, id: string, set: (v: string | null) => void, blank = true): HTMLElement => {
    const select = h(
      "select",
      { on: { change: () => set(select.value || null) } },
      blank ? h("option", { attrs: { value: "" } }, bt("botWait")) : null,
      ids().map((nid) => h("option", { attrs: { value: nid }, props: { selected: nid === value } }, nid)),
    );
    return field(label, select, id);
  };

  const draw = (): void => {
    mount(start, ids().map((nid) => h("option", { attrs: { value: nid }, props: { selected: nid === bot.start } }, nid)));
    mount(nodes, bot.nodes.map((node, i) => nodeCard(node, i)));
    mount(faq, bot.faq.map((entry, i) => faqCard(entry, i)));
  };

  const nodeCard = (node: BotNode, i: number): HTMLElement => {
    const id = `${uid}-n${i}`;
    const idBox = h("input", {
      attrs: { type: "text", maxlength: 40, pattern: "[A-Za-z0-9_-]+", required: true },
      props: { value: node.id },
      on: {
        change: () => {
          const old = node.id;
          node.id = idBox.value.trim();
          // Every reference to the old id follows the rename.
          for (const n of bot.nodes) {
            for (const key of ["next", "yes", "no"] as const) if (n[key] === old) n[key] = node.id;
            for (const o of n.options ?? []) if (o.next === old) o.next = node.id;
          }
          if (bot.start === old) bot.start = node.id;
          draw();
        },
      },
    });
    const kind = h(
      "select",
      { on: { change: () => ((bot.nodes[i] = reshape(node, kind.value as Kind)), draw()) } },
      KINDS.map((k) => h("option", { attrs: { value: k }, props: { selected: node.kind === k } }, bt(`kind_${k}` as BotKey))),
    );
    const parts: HTMLElement[] = [
      h("div", { class: "grid2" }, field(bt("botNodeId"), idBox, `${id}-id`), field(bt("botKind"), kind, `${id}-kind`)),
    ];
    if (node.kind !== "branch") {
      const text = h("textarea", { attrs: { rows: 2, maxlength: 1000 }, props: { value: node.text ?? "" }, on: { input: () => (node.text = text.value) } });
      parts.push(field(bt("botText"), text, `${id}-text`));
    }
    if (node.kind === "question") {
      const which = h(
        "select",
        { on: { change: () => (node.field = which.value as BotNode["field"]) } },
        (["email", "name", "order"] as const).map((f) => h("option", { attrs: { value: f }, props: { selected: node.field === f } }, bt(`field_${f}`))),
      );
      parts.push(field(bt("botField"), which, `${id}-field`));
    }
    if (node.kind === "message" || node.kind === "question" || node.kind === "faq") {
      parts.push(targetSelect(node.next, bt("botNext"), `${id}-next`, (v) => (node.next = v)));
    }
    if (node.kind === "buttons") {
      const options = node.options ?? (node.options = []);
      parts.push(
        h(
          "ul",
          { class: "rules bot-options", attrs: { "aria-label": bt("botOptions", { id: node.id }) } },
          options.map((option, j) => {
            const label = h("input", { attrs: { type: "text", maxlength: 60 }, props: { value: option.label }, on: { input: () => (option.label = label.value) } });
            return h(
              "li",
              { class: "grid3" },
              field(bt("botOptionLabel"), label, `${id}-o${j}-label`),
              targetSelect(option.next, bt("botOptionNext"), `${id}-o${j}-next`, (v) => (option.next = v ?? ""), false),
              h("button", { attrs: { type: "button", "aria-label": bt("botRemoveOption", { label: option.label }) }, on: { click: () => (options.splice(j, 1), draw()) } }, "×"),
            );
          }),
        ),
        h("button", { attrs: { type: "button" }, on: { click: () => (options.push({ label: "", next: ids()[0] ?? "" }), draw()) } }, bt("botAddOption")),
      );
    }
    if (node.kind === "branch") {
      const on = h(
        "select",
        { on: { change: () => ((node.on = on.value as BotNode["on"]), draw()) } },
        (["open", "agents_online", "page", "language"] as const).map((o) => h("option", { attrs: { value: o }, props: { selected: node.on === o } }, bt(`on_${o}`))),
      );
      parts.push(field(bt("botOn_"), on, `${id}-on`));
      if (node.on === "page" || node.on === "language") {
        const value = h("input", { attrs: { type: "text", maxlength: 500, placeholder: node.on === "page" ? "*/checkout*" : "fr" }, props: { value: node.value ?? "" }, on: { input: () => (node.value = value.value) } });
        parts.push(field(bt("botValue"), value, `${id}-value`));
      }
      parts.push(h("div", { class: "grid2" },
        targetSelect(node.yes, bt("botYes"), `${id}-yes`, (v) => (node.yes = v)),
        targetSelect(node.no, bt("botNo"), `${id}-no`, (v) => (node.no = v))));
    }
    if (node.kind === "handover") {
      const group = h("input", { attrs: { type: "text", maxlength: 40, pattern: "[A-Za-z0-9_-]*" }, props: { value: node.group ?? "" }, on: { input: () => (node.group = group.value.trim() || null) } });
      parts.push(field(bt("botGroup"), group, `${id}-group`));
    }
    parts.push(h("button", { attrs: { type: "button" }, on: { click: () => (bot.nodes.splice(i, 1), draw()) } }, bt("botRemoveNode", { id: node.id })));
    return h("li", { class: "rule", attrs: { role: "group", "aria-label": bt("botNode", { id: node.id }) } }, parts);
  };

  const faqCard = (entry: BotSetting["faq"][number], i: number): HTMLElement => {
    const id = `${uid}-f${i}`;
    const question = h("input", { attrs: { type: "text", maxlength: 300 }, props: { value: entry.question }, on: { input: () => (entry.question = question.value) } });
    const keywords = h("input", { attrs: { type: "text" }, props: { value: entry.keywords.join(", ") }, on: { input: () => (entry.keywords = split(keywords.value)) } });
    const answer = h("textarea", { attrs: { rows: 2, maxlength: 2000 }, props: { value: entry.answer }, on: { input: () => (entry.answer = answer.value) } });
    return h(
      "li",
      { class: "rule", attrs: { role: "group", "aria-label": bt("botFaqEntry", { n: i + 1 }) } },
      field(bt("botQuestion"), question, `${id}-q`),
      field(bt("botKeywords"), keywords, `${id}-k`),
      field(bt("botAnswer"), answer, `${id}-a`),
      h("button", { attrs: { type: "button" }, on: { click: () => (bot.faq.splice(i, 1), draw()) } }, bt("botRemoveFaq", { n: i + 1 })),
    );
  };

  const read = (): BotSetting => ({
    ...bot,
    enabled: enabled.checked,
    name: name.value.trim() || "Bot",
    start: start.value || bot.nodes[0]?.id || "",
    handover_words: split(words.value),
    nodes: bot.nodes.map((n) => ({ ...n, ...(n.options ? { options: n.options.filter((o) => o.label.trim()) } : {}) })),
    faq: bot.faq.filter((e) => e.question.trim() && e.answer.trim()),
  });
  start.addEventListener("change", () => (bot.start = start.value));
  draw();

  const addNode = (): void => {
    let n = bot.nodes.length + 1;
    while (ids().includes(`step${n}`)) n++;
    bot.nodes.push({ id: `step${n}`, kind: "message", text: "", next: null });
    draw();
  };
  const form = h(
    "form",
    {
      class: "card bot-editor",
      attrs: { "aria-label": bt("bot") },
      on: {
        submit: (e) => {
          e.preventDefault();
          api("PATCH", path, { settings: { bot: read() } })
            .then(() => ((status.textContent = t("saved")), status.classList.remove("form-error")))
            .catch((err: unknown) => ((status.textContent = t("error", { message: (err as Error).message })), status.classList.add("form-error")));
        },
      },
    },
    h("h2", null, bt("bot")),
    h("p", { class: "muted small" }, bt("botHelp")),
    h("label", null, enabled, " ", bt("botOn")),
    h("div", { class: "grid2" }, field(bt("botName"), name, `${uid}-name`), field(bt("botStart"), start, `${uid}-start`)),
    h("fieldset", { class: "rules-box" }, h("legend", null, bt("botNodes")), nodes, h("button", { attrs: { type: "button" }, on: { click: addNode } }, bt("botAddNode"))),
    h("fieldset", { class: "rules-box" }, h("legend", null, bt("botFaq")), faq,
      h("button", { attrs: { type: "button" }, on: { click: () => (bot.faq.push({ question: "", keywords: [], answer: "" }), draw()) } }, bt("botAddFaq"))),
    field(bt("botWords"), words, `${uid}-words`),
    status,
    h("button", { class: "primary", attrs: { type: "submit" } }, bt("botSave")),
  );
  return h("div", { class: "bot-area" }, form, previewPanel(read, path));
}

function split(text: string): string[] {
  return text.split(",").map((w) => w.trim()).filter(Boolean);
}

/** A conversation with the draft: each message goes to the server's stepper with the state it answered
 * last; the bot's buttons are buttons here too. */
function previewPanel(read: () => BotSetting, path: string): HTMLElement {
  let state: unknown = null;
  const log = h("ol", { class: "bot-preview-log", attrs: { "aria-label": bt("botPreviewLog"), "aria-live": "polite" } });
  const choices = h("div", { class: "bot-preview-choices", attrs: { role: "group", "aria-label": bt("botPreviewChoices") } });
  const closed = h("input", { attrs: { type: "checkbox" } });
  const say = h("input", { attrs: { type: "text", maxlength: 4000 } });
  const error = statusLine();
  const line = (who: string, text: string, cls: string): void => void log.append(h("li", { class: cls }, h("b", null, who, ": "), text));
  const send = (text: string, choice: string | null): void => {
    line(bt("botVisitor"), text, "visitor");
    api<{ state: unknown; outputs: Output[] }>("POST", path + "/bot/preview", {
      bot: read(), state, input: { text, choice }, context: { open_now: !closed.checked, agents_online: 1 },
    })
      .then((answer) => {
        error.textContent = "";
        state = answer.state;
        mount(choices);
        const name = read().name;
        for (const out of answer.outputs) {
          if (out.kind === "say") {
            line(name, out.text ?? "", "bot");
            mount(choices, (out.options ?? []).map((o) => h("button", { attrs: { type: "button" }, on: { click: () => send(o.label, o.value) } }, o.label)));
          } else if (out.kind === "handover") line(name, bt("botPreviewHandover", { reason: out.reason ?? "" }), "event");
          else if (out.kind === "resolved") line(name, bt("botPreviewResolved"), "event");
          else line(name, bt("botPreviewRemember", { field: out.field ?? "", value: out.value ?? "" }), "event");
        }
      })
      .catch((err: unknown) => ((error.textContent = t("error", { message: (err as Error).message })), error.classList.add("form-error")));
  };
  return h(
    "section",
    { class: "card bot-preview", attrs: { "aria-label": bt("botPreview") } },
    h("h2", null, bt("botPreview")),
    h("p", { class: "muted small" }, bt("botPreviewHelp")),
    h("label", null, closed, " ", bt("botPreviewClosed")),
    log,
    choices,
    h(
      "form",
      { on: { submit: (e) => (e.preventDefault(), say.value.trim() && (send(say.value.trim(), null), (say.value = ""))) } },
      field(bt("botPreviewSay"), say, "bot-preview-say"),
      h("button", { attrs: { type: "submit" } }, bt("botPreviewSend")),
      h("button", { attrs: { type: "button" }, on: { click: () => ((state = null), mount(log), mount(choices), (error.textContent = "")) } }, bt("botPreviewRestart")),
    ),
    error,
  );
}
