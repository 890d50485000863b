// Site settings → Channels: connect and disconnect messaging apps (WhatsApp, Telegram, SMS, Messenger,
// Instagram). The form is drawn from the providers' fields the server lists; secrets go once and are
// never shown again (the list shows their last characters only), and the webhook URL to give the
// provider is shown with each channel.

import { api } from "./api";
import { channelLabel } from "./chat";
import { field, h, mount } from "./dom";
import { showFailure, statusLine } from "./form_status";
import { t } from "./i18n";

interface ProviderField {
  name: string;
  label: string;
  secret: boolean;
  required: boolean;
}

interface Channel {
  id: string;
  kind: string;
  name: string;
  config: Record<string, string>;
  secrets: Record<string, string>;
  webhook_url: string;
}

interface Channels {
  channels: Channel[];
  providers: { kind: string; fields: ProviderField[] }[];
}

export function channelsSection(path: string): HTMLElement {
  const section = h("section", { class: "card channels", attrs: { "aria-label": t("channels") } }, h("h2", null, t("channels")));
  void draw(section, path);
  return section;
}

async function draw(section: HTMLElement, path: string): Promise<void> {
  const status = statusLine();
  let data: Channels;
  try {
    data = await api<Channels>("GET", path + "/channels");
  } catch (err) {
    mount(section, h("h2", null, t("channels")), h("p", { class: "form-error" }, t("error", { message: (err as Error).message })));
    return;
  }
  const redraw = (): void => void draw(section, path);
  const kind = h(
    "select",
    { on: { change: () => drawFields() } },
    data.providers.map((p) => h("option", { attrs: { value: p.kind } }, channelLabel(p.kind))),
  );
  const name = h("input", { attrs: { type: "text", maxlength: 80, required: true } });
  const fields = h("div", { class: "channel-fields" });
  const inputs = new Map<string, HTMLInputElement>();
  const drawFields = (): void => {
    inputs.clear();
    const provider = data.providers.find((p) => p.kind === kind.value);
    mount(
      fields,
      (provider?.fields ?? []).map((f) => {
        const input = h("input", {
          attrs: { type: f.secret ? "password" : "text", autocomplete: "off", "data-field": f.name, required: f.required },
        });
        inputs.set(f.name, input);
        return field(f.label + (f.required ? "" : ` (${t("optional")})`), input, `channel-${f.name}`);
      }),
    );
  };
  drawFields();
  const form = h(
    "form",
    {
      class: "channel-form",
      on: {
        submit: (e) => {
          e.preventDefault();
          const settings: Record<string, string> = {};
          for (const [key, input] of inputs) if (input.value.trim()) settings[key] = input.value.trim();
          api("POST", path + "/channels", { kind: kind.value, name: name.value.trim(), settings })
            .then(redraw)
            .catch((err: unknown) => {
              status.textContent = t("error", { message: (err as Error).message });
              status.classList.add("form-error");
            });
        },
      },
    },
    field(t("channelKind"), kind, "channel-kind"),
    field(t("channelName"), name, "channel-name"),
    fields,
    h("button", { class: "primary", attrs: { type: "submit" } }, t("connect")),
  );
  mount(
    section,
    h("h2", null, t("channels")),
    h("p", { class: "muted" }, t("channelsHelp")),
    data.channels.length
      ? h(
          "ul",
          { class: "channel-list" },
          data.channels.map((c) =>
            h(
              "li",
              { attrs: { "data-channel": c.id } },
              h("strong", null, c.name), " · ", channelLabel(c.kind), " ",
              h("span", { class: "muted small" }, Object.entries({ ...c.config, ...c.secrets }).map(([k, v]) => `${k}: ${v}`).join(" · ")),
              h("div", { class: "small" }, t("channelWebhookUrl"), ": ", h("code", null, c.webhook_url)),
              h(
                "button",
                {
                  attrs: { type: "button" },
                  on: {
                    click: () =>
                      void api("DELETE", `${path}/channels/${encodeURIComponent(c.id)}`)
                        .then(redraw)
                        .catch((err: unknown) => showFailure(status, err)),
                  },
                },
                t("disconnect"),
              ),
            ),
          ),
        )
      : h("p", { class: "muted" }, t("noChannels")),
    form,
    status,
  );
}
