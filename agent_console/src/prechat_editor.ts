// The pre-chat form (also the away form) and the site's groups of agents, in site settings
// (docs/bot.md#pre-chat-form): what the form asks, its topics and the group each sends to, and who is
// in each group. Saved as `settings.prechat` and `settings.groups`, the JSON the REST API takes.

import { api } from "./api";
import { bt } from "./bot_texts";
import { field, h, mount } from "./dom";
import { statusLine } from "./form_status";
import { t } from "./i18n";

type Ask = "off" | "optional" | "required";

export interface Prechat {
  enabled: boolean;
  name: Ask;
  email: Ask;
  topics: { id: string; label: string; group?: string | null }[];
}

export interface Group {
  id: string;
  name: string;
  agents: string[];
}

let made = 0;

export function prechatSection(initial: Prechat | undefined, initialGroups: Group[] | undefined,
  agents: { id: string; name: string }[], path: string): HTMLElement {
  const p: Prechat = JSON.parse(JSON.stringify(initial ?? { enabled: false, name: "optional", email: "optional", topics: [] })) as Prechat;
  const groups: Group[] = JSON.parse(JSON.stringify(initialGroups ?? [])) as Group[];
  const uid = `prechat-${++made}`;
  const enabled = h("input", { attrs: { type: "checkbox" }, props: { checked: p.enabled } });
  const ask = (value: Ask, id: string, label: string): [HTMLSelectElement, HTMLElement] => {
    const select = h("select", null, (["off", "optional", "required"] as const).map((a) => h("option", { attrs: { value: a }, props: { selected: a === value } }, bt(`ask_${a}`))));
    return [select, field(label, select, id)];
  };
  const [name, nameField] = ask(p.name, `${uid}-name`, bt("prechatName"));
  const [email, emailField] = ask(p.email, `${uid}-email`, bt("prechatEmail"));
  const topics = h("ol", { class: "rules" });
  const groupList = h("ol", { class: "rules" });
  const status = statusLine();

  const draw = (): void => {
    mount(topics, p.topics.map((topic, i) => {
      const id = `${uid}-t${i}`;
      const tid = h("input", { attrs: { type: "text", maxlength: 40, pattern: "[A-Za-z0-9_-]+", required: true }, props: { value: topic.id }, on: { input: () => (topic.id = tid.value.trim()) } });
      const label = h("input", { attrs: { type: "text", maxlength: 60, required: true }, props: { value: topic.label }, on: { input: () => (topic.label = label.value) } });
      const group = h("select", { on: { change: () => (topic.group = group.value || null) } },
        h("option", { attrs: { value: "" } }, bt("anyone")),
        groups.map((g) => h("option", { attrs: { value: g.id }, props: { selected: g.id === topic.group } }, g.name || g.id)));
      return h("li", { class: "rule", attrs: { role: "group", "aria-label": bt("topicN", { n: i + 1 }) } },
        h("div", { class: "grid3" }, field(bt("topicId"), tid, `${id}-id`), field(bt("topicLabel"), label, `${id}-label`), field(bt("topicGroup"), group, `${id}-group`)),
        h("button", { attrs: { type: "button" }, on: { click: () => (p.topics.splice(i, 1), draw()) } }, bt("removeTopic", { n: i + 1 })));
    }));
    mount(groupList, groups.map((g, i) => {
      const id = `${uid}-g${i}`;
      const gid = h("input", { attrs: { type: "text", maxlength: 40, pattern: "[A-Za-z0-9_-]+", required: true }, props: { value: g.id }, on: { change: () => ((g.id = gid.value.trim()), draw()) } });
      const gname = h("input", { attrs: { type: "text", maxlength: 80 }, props: { value: g.name }, on: { change: () => ((g.name = gname.value), draw()) } });
      const boxes = agents.map((a) => {
        const box = h("input", { attrs: { type: "checkbox", value: a.id }, props: { checked: g.agents.includes(a.id) },
          on: { change: () => (g.agents = box.checked ? [...g.agents, a.id] : g.agents.filter((x) => x !== a.id)) } });
        return h("label", null, box, " ", a.name);
      });
      return h("li", { class: "rule", attrs: { role: "group", "aria-label": bt("groupN", { n: i + 1 }) } },
        h("div", { class: "grid2" }, field(bt("groupId"), gid, `${id}-id`), field(bt("groupName"), gname, `${id}-name`)),
        h("fieldset", null, h("legend", null, bt("groupAgents", { n: i + 1 })), boxes),
        h("button", { attrs: { type: "button" }, on: { click: () => (groups.splice(i, 1), draw()) } }, bt("removeGroup", { n: i + 1 })));
    }));
  };
  draw();

  return h(
    "form",
    {
      class: "card prechat-editor",
      attrs: { "aria-label": bt("prechat") },
      on: {
        submit: (e) => {
          e.preventDefault();
          const prechat: Prechat = {
            enabled: enabled.checked, name: name.value as Ask, email: email.value as Ask,
            topics: p.topics.filter((x) => x.id && x.label.trim()).map((x) => ({ id: x.id, label: x.label, group: x.group || null })),
          };
          api("PATCH", path, { settings: { prechat, groups: groups.filter((g) => g.id).map((g) => ({ ...g, name: g.name.trim() || g.id })) } })
            .then(() => ((status.textContent = t("saved")), status.classList.remove("form-error")))
            .catch((err: unknown) => ((status.textContent = t("error", { message: (err as Error).message })), status.classList.add("form-error")));
        },
      },
    },
    h("h2", null, bt("prechat")),
    h("p", { class: "muted small" }, bt("prechatHelp")),
    h("label", null, enabled, " ", bt("prechatOn")),
    h("div", { class: "grid2" }, nameField, emailField),
    h("fieldset", { class: "rules-box" }, h("legend", null, bt("groups")), groupList,
      h("button", { attrs: { type: "button" }, on: { click: () => (groups.push({ id: `group${groups.length + 1}`, name: "", agents: [] }), draw()) } }, bt("addGroup"))),
    h("fieldset", { class: "rules-box" }, h("legend", null, bt("topics")), topics,
      h("button", { attrs: { type: "button" }, on: { click: () => (p.topics.push({ id: `topic${p.topics.length + 1}`, label: "", group: null }), draw()) } }, bt("addTopic"))),
    status,
    h("button", { class: "primary", attrs: { type: "submit" } }, bt("savePrechat")),
  );
}
