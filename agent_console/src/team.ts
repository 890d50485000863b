// A site's team for its owners and admins — members with their role and their state on this site,
// pending invitations, the hand-over of ownership — and, for every agent, the invitations to their email
// and the sites they belong to. The server enforces the rules (docs/accounts.md); the screens only offer
// what it would allow: nothing on a member of equal or higher rank, never "owner" as a role to pick.

import { api } from "./api";
import { h, mount } from "./dom";
import { showDone, showFailure, statusLine } from "./form_status";
import { dateTime, t, type Key } from "./i18n";

export interface AgentRow {
  id: string;
  name: string;
  email: string;
  role: string;
  disabled: boolean;
  account_disabled: boolean;
  presence: string;
  load: number;
  capacity: number;
}

export interface Invitation {
  id: string;
  email: string;
  role: string;
  invited_by: { id: string; name: string };
  created_at: number;
  expires_at: number;
  valid: boolean;
  site?: { id: string; key: string; name: string };
}

const RANK: Record<string, number> = { agent: 0, admin: 1, owner: 2 };
/** The link of the invitation just made, shown once by the next drawing of its site's team. */
let lastLink: { path: string; email: string; url: string; emailed: boolean } | null = null;

export function roleLabel(role: string): string {
  const key: Key = role === "owner" ? "roleOwner" : role === "admin" ? "roleAdmin" : "roleAgent";
  return t(key);
}

function failed(el: HTMLElement): (err: unknown) => void {
  return (err) => showFailure(el, err);
}

/** The roles I may grant: up to mine, never owner (that is handed over). */
function grantable(myRole: string): string[] {
  return ["agent", "admin"].filter((r) => RANK[r] <= RANK[myRole]);
}

function roleSelect(value: string, choices: string[], label: string, onChange: (role: string) => void): HTMLSelectElement {
  const select = h(
    "select",
    { attrs: { "aria-label": label }, on: { change: () => onChange(select.value) } },
    choices.map((r) => h("option", { attrs: { value: r }, props: { selected: r === value } }, roleLabel(r))),
  );
  return select;
}

export function teamSection(agents: AgentRow[], invites: Invitation[], path: string, me: { id: string; role: string }, redraw: () => void): HTMLElement {
  const note = statusLine();
  // `undo`: on a refusal, after the note says why (a select put back on the value the server has).
  const act = (method: string, url: string, body?: unknown, undo?: () => void): void => {
    void api(method, url, body)
      .then(redraw)
      .catch((err: unknown) => {
        failed(note)(err);
        undo?.();
      });
  };
  const rows = agents.map((a) => {
    const mine = a.id === me.id;
    const manageable = !mine && RANK[me.role] > RANK[a.role];
    const state = a.account_disabled ? t("accountDisabled") : a.disabled ? t("disabledOnSite") : `${t(a.presence as "online")} ${a.load}/${a.capacity}`;
    const actions: HTMLElement[] = [];
    if (manageable) {
      actions.push(
        h("button", { attrs: { type: "button" }, on: { click: () => act("PATCH", `${path}/agents/${encodeURIComponent(a.id)}`, { disabled: !a.disabled }) } }, a.disabled ? t("enable") : t("disable")),
        h(
          "button",
          { attrs: { type: "button" }, on: { click: () => confirm(t("removeConfirm", { name: a.name })) && act("DELETE", `${path}/agents/${encodeURIComponent(a.id)}`) } },
          t("remove"),
        ),
      );
    }
    if (me.role === "owner" && !mine && a.role !== "owner" && !a.disabled && !a.account_disabled) {
      actions.push(
        h(
          "button",
          { attrs: { type: "button" }, on: { click: () => confirm(t("transferConfirm", { name: a.name })) && act("POST", `${path}/transfer`, { agent: a.id }) } },
          t("makeOwner"),
        ),
      );
    }
    const role: HTMLElement = manageable
      ? roleSelect(a.role, grantable(me.role), `${t("role")} ${a.name}`, (r) =>
          act("PATCH", `${path}/agents/${encodeURIComponent(a.id)}`, { role: r }, () => ((role as HTMLSelectElement).value = a.role)),
        )
      : h("span", null, roleLabel(a.role));
    return h(
      "tr",
      { attrs: { "data-agent": a.id }, class: a.disabled || a.account_disabled ? "muted" : "" },
      h("td", null, a.name, mine ? ` (${t("you")})` : ""),
      h("td", null, a.email),
      h("td", null, role),
      h("td", { class: "state" }, state),
      h("td", { class: "actions" }, actions),
    );
  });
  const email = h("input", { attrs: { type: "email", required: true, placeholder: "agent@example.com", "aria-label": t("email") } });
  let inviteRole = "agent";
  const link = h("div", { class: "invite-link" });
  if (lastLink?.path === path) {
    mount(link, h("p", null, t(lastLink.emailed ? "inviteEmailed" : "inviteLink", { email: lastLink.email })), h("input", { class: "code", attrs: { readonly: true, "aria-label": t("invitation") }, props: { value: lastLink.url } }));
  }
  lastLink = null;
  return h(
    "section",
    { class: "card team-admin" },
    h("h2", null, t("agents")),
    h(
      "table",
      { class: "table" },
      h("thead", null, h("tr", null, [t("name"), t("email"), t("role"), t("status")].map((c) => h("th", null, c)), h("th", null, h("span", { class: "sr" }, t("actions"))))),
      h("tbody", null, rows),
    ),
    h(
      "form",
      {
        class: "row",
        on: {
          submit: (e) => {
            e.preventDefault();
            api<{ url: string; email: string; emailed: boolean }>("POST", path + "/invites", { email: email.value, role: inviteRole })
              .then((data) => {
                // Shown by the redrawn section, which lists the new invitation too.
                lastLink = { path, email: data.email, url: data.url, emailed: data.emailed };
                redraw();
              })
              .catch(failed(note));
          },
        },
      },
      email,
      roleSelect("agent", grantable(me.role), t("role"), (r) => (inviteRole = r)),
      h("button", { class: "primary", attrs: { type: "submit" } }, t("invite")),
    ),
    link,
    h("h3", null, t("pendingInvites")),
    invites.length
      ? h(
          "ul",
          { class: "invites" },
          invites.map((i) =>
            h(
              "li",
              { attrs: { "data-invite": i.id } },
              h("strong", null, i.email),
              ` — ${roleLabel(i.role)} · ${t("invitedBy", { name: i.invited_by.name })} · ${t("expires", { when: dateTime(i.expires_at) })}`,
              i.valid ? null : h("span", { class: "form-error" }, ` · ${t("inviteDead")}`),
              RANK[i.role] <= RANK[me.role] ? h("button", { attrs: { type: "button" }, on: { click: () => act("DELETE", `${path}/invites/${encodeURIComponent(i.id)}`) } }, t("withdraw")) : null,
            ),
          ),
        )
      : h("p", { class: "muted" }, t("noPendingInvites")),
    note,
  );
}

/** The account page's part: invitations to my email, my sites (leave one), a new site when allowed. */
export async function mySitesSection(me: { id: string }, afterChange: () => void): Promise<HTMLElement> {
  const note = statusLine();
  const box = h("div", { class: "my-sites" });
  const draw = async (): Promise<void> => {
    let data: [{ invites: Invitation[] }, { sites: { key: string; name: string; role: string }[]; can_create_sites: boolean }];
    try {
      data = await Promise.all([api<{ invites: Invitation[] }>("GET", "/api/me/invites"), api<{ sites: { key: string; name: string; role: string }[]; can_create_sites: boolean }>("GET", "/api/me")]);
    } catch (err) {
      failed(note)(err);
      if (note.parentNode !== box) mount(box, note); // the first read failed: the section says why, not blank
      return;
    }
    const [{ invites }, info] = data;
    const done = (message = ""): void => {
      showDone(note, message);
      void draw();
      afterChange();
    };
    const siteName = h("input", { attrs: { type: "text", id: "new-site-name", maxlength: 120, required: true } });
    const origin = h("input", { attrs: { type: "url", id: "new-site-origin", placeholder: "https://shop.example" } });
    mount(
      box,
      invites.length
        ? h(
            "section",
            { class: "card my-invites" },
            h("h2", null, t("myInvites")),
            h(
              "ul",
              { class: "invites" },
              invites.map((i) =>
                h(
                  "li",
                  { attrs: { "data-invite": i.id } },
                  h("strong", null, t("joinAs", { site: i.site?.name ?? "", role: roleLabel(i.role) })),
                  ` · ${t("invitedBy", { name: i.invited_by.name })} `,
                  h("button", { class: "primary", attrs: { type: "button" }, on: { click: () => void api("POST", `/api/me/invites/${encodeURIComponent(i.id)}/accept`, {}).then(() => done()).catch(failed(note)) } }, t("accept")),
                  h("button", { attrs: { type: "button" }, on: { click: () => void api("POST", `/api/me/invites/${encodeURIComponent(i.id)}/decline`, {}).then(() => done()).catch(failed(note)) } }, t("decline")),
                ),
              ),
            ),
          )
        : null,
      h(
        "section",
        { class: "card" },
        h("h2", null, t("mySites")),
        h(
          "ul",
          { class: "sites" },
          info.sites.map((s) =>
            h(
              "li",
              { attrs: { "data-site": s.key } },
              `${s.name} — ${roleLabel(s.role)} `,
              h(
                "button",
                {
                  attrs: { type: "button" },
                  on: {
                    click: () =>
                      confirm(t("leaveConfirm", { site: s.name })) &&
                      void api("DELETE", `/api/sites/${encodeURIComponent(s.key)}/agents/${encodeURIComponent(me.id)}`).then(() => done()).catch(failed(note)),
                  },
                },
                t("leave"),
              ),
            ),
          ),
        ),
        info.can_create_sites
          ? h(
              "form",
              {
                class: "new-site",
                on: {
                  submit: (e) => {
                    e.preventDefault();
                    const origins = origin.value.trim() ? [origin.value.trim()] : [];
                    void api<{ name: string }>("POST", "/api/sites", { name: siteName.value.trim(), origins })
                      .then((site) => done(t("siteCreated", { name: site.name })))
                      .catch(failed(note));
                  },
                },
              },
              h("h3", null, t("newSite")),
              h("label", { attrs: { for: "new-site-name" } }, t("siteName")),
              siteName,
              h("label", { attrs: { for: "new-site-origin" } }, t("siteOrigin")),
              origin,
              h("button", { class: "primary", attrs: { type: "submit" } }, t("createSite")),
            )
          : null,
      ),
      note,
    );
  };
  await draw();
  return box;
}
