// Saved views of the inbox: an agent names a filter of labels and status ("Refunds": label refund, open)
// and finds it again in the sidebar. Stored per agent and site on the server (/api/sites/{key}/views);
// the filtering itself runs on the conversations the console already holds.

import { api } from "./api";
import { h, mount } from "./dom";
import { showFailure, statusLine } from "./form_status";
import { lang } from "./i18n";
import { type AgentConversation, isSnoozed } from "./types";

export interface SavedView {
  id: string;
  name: string;
  labels: string[];
  status: "open" | "closed" | null;
}

const en = {
  views: "Saved views",
  noView: "No saved view",
  saveView: "Save a view",
  viewName: "View name",
  viewLabels: "Labels (comma separated)",
  viewStatus: "Conversation status",
  anyStatus: "Any status",
  open: "Open",
  closed: "Closed",
  save: "Save",
  deleteView: "Delete this view",
};
const fr: typeof en = {
  views: "Vues enregistrées",
  noView: "Aucune vue",
  saveView: "Enregistrer une vue",
  viewName: "Nom de la vue",
  viewLabels: "Étiquettes (séparées par des virgules)",
  viewStatus: "Statut des conversations",
  anyStatus: "Tous statuts",
  open: "En cours",
  closed: "Terminées",
  save: "Enregistrer",
  deleteView: "Supprimer cette vue",
};

function vt(key: keyof typeof en): string {
  return (lang === "fr" ? fr : en)[key];
}

/** Whether a conversation fits a view: every label of the view, and its status when it names one. */
export function inView(c: AgentConversation, view: SavedView): boolean {
  const labels = new Set(c.labels ?? []);
  // An "open" view leaves the snoozed ones out, as the open queues do.
  const status = !view.status || (c.status === view.status && !(view.status === "open" && isSnoozed(c)));
  return view.labels.every((l) => labels.has(l)) && status;
}

export class SavedViews {
  readonly root = h("section", { class: "saved-views", attrs: { "aria-label": vt("views") } });
  /** The view the list shows, if any (the queues show again when it is cleared). */
  active: SavedView | null = null;
  private views: SavedView[] = [];
  private site = "";

  constructor(private readonly changed: () => void) {}

  /** Reads the agent's views of `site` (a key), when the site changes. */
  async load(site: string): Promise<void> {
    if (!site || site === this.site) return;
    this.site = site;
    const { views } = await api<{ views: SavedView[] }>("GET", `/api/sites/${encodeURIComponent(site)}/views`);
    this.views = views;
    if (this.active && !views.some((v) => v.id === this.active?.id)) this.active = null;
    this.draw();
  }

  clear(): void {
    this.active = null;
    this.draw();
  }

  draw(): void {
    const select = h(
      "select",
      {
        attrs: { "aria-label": vt("views") },
        on: {
          change: () => {
            this.active = this.views.find((v) => v.id === select.value) ?? null;
            this.changed();
            this.draw();
          },
        },
      },
      h("option", { attrs: { value: "" } }, vt("noView")),
      this.views.map((v) => h("option", { attrs: { value: v.id }, props: { selected: v.id === this.active?.id } }, v.name)),
    );
    const name = h("input", { attrs: { type: "text", required: true, maxlength: 60, "aria-label": vt("viewName"), placeholder: vt("viewName") } });
    const labels = h("input", { attrs: { type: "text", "aria-label": vt("viewLabels"), placeholder: vt("viewLabels") } });
    const status = h(
      "select",
      { attrs: { "aria-label": vt("viewStatus") } },
      h("option", { attrs: { value: "" } }, vt("anyStatus")),
      h("option", { attrs: { value: "open" } }, vt("open")),
      h("option", { attrs: { value: "closed" } }, vt("closed")),
    );
    // How the last save or delete went: a refusal (a blank name, a label too long, the network) is said.
    const said = statusLine();
    const form = h(
      "form",
      {
        class: "view-form",
        on: {
          submit: async (e: Event) => {
            e.preventDefault();
            const body = {
              name: name.value.trim(),
              labels: labels.value.split(",").map((l) => l.trim()).filter(Boolean),
              status: status.value || null,
            };
            let view: SavedView;
            try {
              view = await api<SavedView>("POST", `/api/sites/${encodeURIComponent(this.site)}/views`, body);
            } catch (err) {
              showFailure(said, err); // the form stays as typed, to be mended
              return;
            }
            this.views = [...this.views.filter((v) => v.id !== view.id), view].sort((a, b) => a.name.localeCompare(b.name));
            this.active = view;
            this.changed();
            this.draw();
          },
        },
      },
      name,
      labels,
      status,
      h("button", { attrs: { type: "submit" } }, vt("save")),
    );
    const active = this.active;
    mount(
      this.root,
      h("div", { class: "row" }, select, active
        ? h("button", {
            class: "link",
            attrs: { type: "button", "aria-label": vt("deleteView") },
            on: {
              click: async () => {
                try {
                  await api("DELETE", `/api/sites/${encodeURIComponent(this.site)}/views/${active.id}`);
                } catch (err) {
                  showFailure(said, err);
                  return;
                }
                this.views = this.views.filter((v) => v.id !== active.id);
                this.active = null;
                this.changed();
                this.draw();
              },
            },
          }, "×")
        : null),
      h("details", null, h("summary", null, vt("saveView")), form),
      said,
    );
  }
}
