// Attachments in the console: the agent picks, pastes or drops files into a reply; each uploads
// with its progress (XMLHttpRequest), a failed one can be retried or removed, and the reply goes
// once every file is uploaded, with their ids, through the outbox (one client_msg_id: sent once).
// Messages show images as thumbnails that open a larger view, and other files as a card with name,
// type and size that downloads. Same origin: the session cookie authenticates every fetch.

import type { Attachment } from "../../widget/src/client/frames";
import { formatSize, sendUpload, typeLabel, type Upload } from "../../widget/src/panel/attachments";
import { h } from "./dom";
import { t } from "./i18n";

export class ReplyFiles {
  readonly uploads: Upload[] = [];
  readonly tray = h("div", { class: "upload-tray", attrs: { role: "group", "aria-label": t("filesToSend") } });

  constructor(
    private readonly siteKey: () => string | undefined,
    private readonly changed: () => void,
  ) {}

  add(files: Iterable<File>): void {
    for (const file of files) {
      const upload: Upload = { file, state: "uploading", progress: 0 };
      this.uploads.push(upload);
      this.start(upload);
    }
    this.draw();
  }

  busy(): boolean {
    return this.uploads.some((u) => u.state !== "ready");
  }

  take(): Attachment[] {
    const ready = this.uploads.filter((u) => u.state === "ready").map((u) => u.attachment!);
    this.uploads.length = 0;
    this.draw();
    return ready;
  }

  private start(upload: Upload): void {
    const key = this.siteKey();
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/sites/${encodeURIComponent(key ?? "")}/attachments?name=${encodeURIComponent(upload.file.name || "file")}`);
    // Not a form another site could send (docs/operations.md, "Security model").
    xhr.setRequestHeader("X-Papote-Request", "1");
    sendUpload(xhr, upload, t("uploadNetwork"), () => this.draw());
  }

  private draw(): void {
    this.tray.replaceChildren(
      ...this.uploads.map((u) => {
        const name = u.file.name || "file";
        return h(
          "div",
          { class: "upload", attrs: { "data-state": u.state } },
          h("span", { class: "small" }, name),
          u.state === "uploading"
            ? h("progress", { attrs: { max: 1, "aria-label": t("uploading", { name }) }, props: { value: u.progress } })
            : null,
          u.state === "failed" ? h("span", { class: "small error", attrs: { role: "alert" } }, t("uploadFailed", { name }) + (u.error ? ` (${u.error})` : "")) : null,
          u.state === "failed" && !u.final // refused for what the file is: sending it again cannot help
            ? h("button", { class: "link", attrs: { type: "button" }, on: { click: () => this.retry(u) } }, t("retry"))
            : null,
          h("button", { class: "link", attrs: { type: "button", "aria-label": t("removeFile", { name }) }, on: { click: () => this.remove(u) } }, "×"),
        );
      }),
    );
    this.changed();
  }

  private retry(upload: Upload): void {
    upload.state = "uploading";
    upload.progress = 0;
    upload.error = upload.code = undefined;
    upload.final = false;
    this.start(upload);
    this.draw();
  }

  private remove(upload: Upload): void {
    const i = this.uploads.indexOf(upload);
    if (i >= 0) this.uploads.splice(i, 1);
    this.draw();
  }
}

/** A message's files: images as thumbnails (a click opens the larger view), the others as cards. */
export function attachmentsNode(list: Attachment[] | undefined): HTMLElement | null {
  if (!list || !list.length) return null;
  return h(
    "div",
    { class: "files" },
    list.map((a) => {
      const url = `/api/attachments/${encodeURIComponent(a.id)}`;
      if (a.kind === "image") {
        return h(
          "button",
          { class: "thumb", attrs: { type: "button", "aria-label": t("viewImage", { name: a.name }) }, on: { click: () => openViewer(a, url) } },
          h("img", { attrs: { src: a.thumbnail ? `${url}/thumbnail` : url, alt: a.name, loading: "lazy", width: Math.min(a.width ?? 160, 160) } }),
        );
      }
      return h(
        "div",
        { class: "file-card" },
        h("span", { class: "file-name" }, a.name),
        h("span", { class: "muted small" }, `${typeLabel(a)} · ${formatSize(a.size)}`),
        h("a", { attrs: { href: url, download: a.name, "aria-label": t("downloadFile", { name: a.name }) } }, t("download")),
      );
    }),
  );
}

function openViewer(a: Attachment, url: string): void {
  const close = h("button", { class: "primary", attrs: { type: "button" } }, t("closeImage"));
  const viewer = h(
    "div",
    { class: "image-viewer", attrs: { role: "dialog", "aria-modal": "true", "aria-label": a.name } },
    h("img", { attrs: { src: url, alt: a.name } }),
    h("div", { class: "viewer-bar" }, h("a", { attrs: { href: `${url}?download=true`, download: a.name } }, t("download")), close),
  );
  const previous = document.activeElement as HTMLElement | null;
  const done = (): void => {
    viewer.remove();
    previous?.focus();
  };
  close.addEventListener("click", done);
  viewer.addEventListener("keydown", (e) => {
    if (e.key === "Escape") done();
  });
  document.body.append(viewer);
  close.focus();
}
