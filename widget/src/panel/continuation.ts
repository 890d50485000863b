// "Continue on another device", both ends: on the first device, the code, the link and its QR code
// (drawn from the path the server sends: a path of numbers, no markup from the network); on the other,
// a field to type the code into, with the server's refusal said in the visitor's language.

import { format } from "../i18n/locale";
import type { PanelStrings } from "../i18n/panel";
import { h } from "./dom";
import type { VisitorSession } from "./session";

const SVG = "http://www.w3.org/2000/svg";
const QR_MIN_PX = 112;
const QR_MAX_PX = 176;
const CLOSE_ICON =
  '<svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true"><path fill="none" stroke="currentColor" stroke-width="2.4" stroke-linecap="round" d="M6 6l12 12M18 6L6 18"/></svg>';

export function qrImage(size: number, path: string, label: string): SVGSVGElement {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${size} ${size}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  svg.setAttribute("class", "qr");
  // At least 3 px a module, so a camera (and a screenshot) resolves each one; a long page URL makes a
  // bigger symbol, up to a size that leaves the conversation visible.
  const px = String(Math.min(QR_MAX_PX, Math.max(QR_MIN_PX, size * 3)));
  svg.setAttribute("width", px);
  svg.setAttribute("height", px);
  // Light modules stay light in dark mode too: a camera needs dark on light.
  const back = document.createElementNS(SVG, "rect");
  back.setAttribute("width", String(size));
  back.setAttribute("height", String(size));
  back.setAttribute("fill", "#fff");
  const dark = document.createElementNS(SVG, "path");
  dark.setAttribute("d", path);
  dark.setAttribute("fill", "#000");
  dark.setAttribute("shape-rendering", "crispEdges");
  svg.append(back, dark);
  return svg;
}

/** The box under the conversation. Rebuilt only when what it says changes, so the code being typed
 * (and the focus) survive the panel's redraws, and a refusal shows next to the field it is about. */
export class Continuation {
  readonly root = h("div", { class: "extras" });
  private key = "";

  constructor(
    private readonly session: VisitorSession,
    private readonly close: () => void,
  ) {}

  draw(show: boolean, t: PanelStrings, time: (ts: number) => string): void {
    const s = this.session;
    const key = show ? JSON.stringify([s.link?.code, s.link?.qr ? 1 : 0, s.linkError, s.linked, s.refused.get("link"), t.code]) : "";
    if (key === this.key) return;
    this.key = key;
    const old = this.root.querySelector("input");
    const typed = old?.value ?? "";
    const focused = !!old && old.getRootNode() instanceof ShadowRoot && (old.getRootNode() as ShadowRoot).activeElement === old;
    this.root.replaceChildren();
    this.root.hidden = !show;
    if (!show) return;
    const box = h("div", { class: "box", "data-kind": "link" });
    const shut = h("button", { class: "icon shut", type: "button", "aria-label": t.close, title: t.close, onclick: this.close });
    shut.innerHTML = CLOSE_ICON; // constant markup
    box.append(shut);
    const link = s.link;
    if (s.linked) box.append(h("div", { class: "small", role: "status" }, t.linked));
    // No code came (the page is not on the site's allowed origins, too many asked from here).
    if (s.refused.has("link") && !link) box.append(h("div", { class: "error", role: "alert" }, t.linkFailed));
    if (link) {
      const url = link.url || `${location.href.split("#")[0]}#papote=${link.code}`;
      // The QR code beside the code and the link: the panel keeps room for the conversation.
      const words = h(
        "div",
        { class: "linkwords" },
        h("div", { class: "code" }, link.code),
        h("div", { class: "small" }, url),
        h("div", { class: "small" }, format(t.linkExpires, { time: time(link.expires_at) })),
      );
      box.append(h("div", { class: "small" }, t.linkHelp), h("div", { class: "linkrow" }, link.qr ? qrImage(link.qr.size, link.qr.path, t.qr) : null, words));
    }
    const input = h("input", {
      type: "text",
      autocomplete: "one-time-code",
      autocapitalize: "characters",
      spellcheck: "false",
      maxlength: 64,
      "aria-label": t.code,
      placeholder: t.codeShort,
    });
    input.value = typed;
    const form = h(
      "form",
      {
        onsubmit: (e) => {
          e.preventDefault();
          const code = input.value.trim();
          if (code) s.redeem(code);
        },
      },
      h("div", { class: "small" }, t.enterCode),
      h("div", { class: "row" }, input, h("button", { class: "btn", type: "submit" }, t.useCode)),
    );
    if (s.linkError) {
      input.setAttribute("aria-invalid", "true");
      form.append(h("div", { class: "error", role: "alert" }, s.linkError === "rate_limited" ? t.codeLimited : t.codeWrong));
    }
    box.append(form);
    this.root.append(box);
    if (focused) input.focus();
  }
}
