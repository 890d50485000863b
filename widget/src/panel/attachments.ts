// Attachments in the widget: picking, pasting or dropping files, uploading them with progress,
// retrying a failed upload, and showing the files of messages (images as thumbnails with a larger
// view, other files as a card to download).
//
// The visitor's token never goes in a URL: uploads and downloads carry it in the Authorization
// header (XMLHttpRequest), and what comes back is shown from a blob: URL. An upload that failed is
// retried as the same file; the message is sent only once every file is uploaded, with their ids,
// through the outbox like any message (same client_msg_id on every retry: sent once).

import type { Attachment } from "../client/frames";
import { format } from "../i18n/locale";
import type { PanelStrings } from "../i18n/panel";
import { h } from "./dom";

/** A paperclip, drawn (the emoji shows as an empty box without a colour emoji font): the widget's
 * attach button and the console's preview of a message of files. */
export const PAPERCLIP_PATH = "M20 11.5l-8 8a5 5 0 0 1-7-7l8.5-8.5a3.5 3.5 0 0 1 5 5l-8.5 8.5a2 2 0 0 1-3-3l7.5-7.5";

export interface Upload {
  file: File;
  state: "uploading" | "failed" | "ready";
  progress: number;
  error?: string;
  /** The server's error code when it refused the file (`too_large`, `unsupported_type`…). */
  code?: string;
  /** Refused for what the file is (a 4xx other than a rate limit): sending it again cannot help. */
  final?: boolean;
  attachment?: Attachment;
}

/** An upload with no progress for this long has stalled (a network that went away without an
 * error): it fails, with Retry, rather than show "uploading" for ever. */
const UPLOAD_STALL_MS = 60_000;

export interface FileLimits {
  max_bytes: number;
  types: string[];
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** A short name for a content type: "PDF", "JPEG", "DOCX"… */
export function typeLabel(a: { content_type: string; name: string }): string {
  const ext = a.name.includes(".") ? a.name.split(".").pop()! : a.content_type.split("/").pop()!;
  return ext.toUpperCase().slice(0, 8);
}

/** What a message says, for announcements and notifications: its text, or its files' names. */
export function spoken(message: { body: string; attachments?: Attachment[] }): string {
  return message.body || (message.attachments ?? []).map((a) => `📎 ${a.name}`).join(", ");
}

/** Sends `upload.file` on an opened request (widget and console alike), following its progress into
 * `upload`: ready with the server's record on a 201, failed with the server's message, the status or
 * `networkError` otherwise. `changed` runs after every step. */
export function sendUpload(xhr: XMLHttpRequest, upload: Upload, networkError: string, changed: () => void): void {
  let stall = 0;
  const failed = (): void => {
    clearTimeout(stall);
    upload.state = "failed";
    upload.error = networkError;
    changed();
  };
  const watch = (): void => {
    clearTimeout(stall);
    stall = window.setTimeout(() => {
      xhr.onerror = xhr.onload = null;
      xhr.abort();
      failed();
    }, UPLOAD_STALL_MS);
  };
  xhr.upload.onprogress = (e) => {
    watch();
    if (e.lengthComputable) {
      upload.progress = e.loaded / e.total;
      changed();
    }
  };
  xhr.onload = () => {
    clearTimeout(stall);
    let body: { error?: { message?: string; code?: string } } & Partial<Attachment> = {};
    try {
      body = JSON.parse(xhr.responseText);
    } catch {
      // not JSON: a proxy's page; the status says enough
    }
    if (xhr.status === 201 && body.id) {
      upload.state = "ready";
      upload.progress = 1;
      upload.attachment = body as Attachment;
    } else {
      upload.state = "failed";
      upload.error = body.error?.message || `HTTP ${xhr.status}`;
      upload.code = body.error?.code;
      upload.final = xhr.status >= 400 && xhr.status < 500 && xhr.status !== 408 && xhr.status !== 429;
    }
    changed();
  };
  xhr.onerror = failed;
  watch();
  xhr.send(upload.file);
}

export class Files {
  readonly uploads: Upload[] = [];
  private readonly blobs = new Map<string, Promise<string>>();

  constructor(
    private readonly base: string,
    private readonly siteKey: string,
    private readonly token: () => string | null,
    private readonly changed: () => void,
  ) {}

  private url(path: string): string {
    return `${this.base}/api/widget/${encodeURIComponent(this.siteKey)}/attachments${path}`;
  }

  add(files: Iterable<File>, limits: FileLimits | undefined, tooBig: string, notAllowed: string): void {
    for (const file of files) {
      const upload: Upload = { file, state: "uploading", progress: 0 };
      this.uploads.push(upload);
      if (limits && file.size > limits.max_bytes) {
        upload.state = "failed";
        upload.error = tooBig;
      } else if (limits && !limits.types.length) {
        upload.state = "failed";
        upload.error = notAllowed;
      } else {
        this.start(upload);
      }
    }
    this.changed();
  }

  /** Sends the file again (after a network error or a 5xx). */
  retry(upload: Upload): void {
    upload.state = "uploading";
    upload.progress = 0;
    upload.error = upload.code = undefined;
    upload.final = false;
    this.start(upload);
    this.changed();
  }

  remove(upload: Upload): void {
    const i = this.uploads.indexOf(upload);
    if (i >= 0) this.uploads.splice(i, 1);
    this.changed();
  }

  busy(): boolean {
    return this.uploads.some((u) => u.state !== "ready");
  }

  /** The uploaded files, taken for a message (the tray empties). */
  take(): Attachment[] {
    const ready = this.uploads.filter((u) => u.state === "ready").map((u) => u.attachment!);
    this.uploads.length = 0;
    this.changed();
    return ready;
  }

  private start(upload: Upload): void {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", this.url(`?name=${encodeURIComponent(upload.file.name || "file")}`));
    const token = this.token();
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    sendUpload(xhr, upload, "network", () => this.changed());
  }

  /** A blob: URL of a file or its thumbnail, fetched once with the token in a header. */
  blobUrl(id: string, thumbnail: boolean): Promise<string> {
    const key = `${id}:${thumbnail}`;
    let found = this.blobs.get(key);
    if (!found) {
      found = new Promise<string>((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        xhr.open("GET", this.url(`/${encodeURIComponent(id)}${thumbnail ? "/thumbnail" : ""}`));
        const token = this.token();
        if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
        xhr.responseType = "blob";
        xhr.onload = () => (xhr.status === 200 ? resolve(URL.createObjectURL(xhr.response as Blob)) : reject(xhr.status));
        xhr.onerror = () => reject(0);
        xhr.send();
      });
      found.catch(() => this.blobs.delete(key));
      this.blobs.set(key, found);
    }
    return found;
  }

  /** Downloads a file under its name. */
  async download(a: Attachment): Promise<void> {
    const url = await this.blobUrl(a.id, false);
    const link = h("a", { href: url, download: a.name });
    link.click();
  }
}

/** The composer's tray: each file being sent, with its progress, or Retry after a failure. */
export function trayRows(files: Files, t: PanelStrings): HTMLElement[] {
  return files.uploads.map((u) => {
    const name = u.file.name || "file";
    const row = h("div", { class: "upload", "data-state": u.state }, h("span", { class: "small" }, name));
    if (u.state === "uploading") {
      row.append(h("progress", { max: 1, value: u.progress, "aria-label": format(t.uploading, { name }) }));
    }
    if (u.state === "failed") {
      // Why, in the visitor's language where the server's code says it.
      const why = u.code === "too_large" ? t.fileTooBig : u.code === "unsupported_type" ? t.fileType : u.error;
      const said = format(t.uploadFailed, { name });
      row.append(h("span", { class: "small", role: "alert" }, why && why !== said ? `${said}: ${why}` : said));
      // Too big or not accepted: retrying cannot help, only removing it.
      if (u.error !== t.fileTooBig && u.error !== t.filesOff && !u.final) {
        row.append(h("button", { class: "linkbtn", type: "button", onclick: () => files.retry(u) }, t.retry));
      }
    }
    row.append(h("button", { class: "linkbtn", type: "button", "aria-label": format(t.removeFile, { name }),
      onclick: () => files.remove(u) }, "×"));
    return row;
  });
}

/** A message's files: images as thumbnails that open a larger view, the others as cards. `show`
 * puts the viewer in the panel; `closed` is where focus goes back when it closes. */
export function filesNode(files: Files, list: Attachment[], t: PanelStrings, show: (viewer: HTMLElement) => void,
  closed: () => void): HTMLElement {
  const box = h("div", { class: "files" });
  for (const a of list) {
    if (a.kind === "image") {
      const img = h("img", { alt: a.name, width: Math.min(a.width || 160, 160) });
      files.blobUrl(a.id, a.thumbnail).then((url) => (img.src = url), () => undefined);
      box.append(h("button", { class: "thumb", type: "button", "aria-label": format(t.viewImage, { name: a.name }),
        onclick: () => show(viewer(files, a, t, closed)) }, img));
    } else {
      box.append(h("div", { class: "card" },
        h("div", { class: "small" }, a.name),
        h("div", { class: "small" }, `${typeLabel(a)} · ${formatSize(a.size)}`),
        h("button", { class: "linkbtn", type: "button", "aria-label": format(t.download, { name: a.name }),
          onclick: (e) => {
            const card = (e.currentTarget as HTMLElement).parentElement!;
            card.querySelector(".error")?.remove();
            files.download(a).catch(() => card.append(h("div", { class: "small error", role: "alert" }, t.downloadFailed)));
          } }, "⬇")));
    }
  }
  return box;
}

function viewer(files: Files, a: Attachment, t: PanelStrings, closed: () => void): HTMLElement {
  const img = h("img", { alt: a.name, class: "large" });
  const close = h("button", { class: "btn", type: "button" }, t.closeImage);
  const box = h("div", { class: "viewer", role: "dialog", "aria-label": a.name }, img, close);
  const done = (): void => {
    box.remove();
    closed();
  };
  close.addEventListener("click", done);
  box.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    e.stopPropagation(); // closes the image, not the whole chat
    done();
  });
  files.blobUrl(a.id, false).then(
    (url) => (img.src = url),
    () => img.replaceWith(h("div", { class: "small error", role: "alert" }, t.downloadFailed)),
  );
  queueMicrotask(() => close.focus());
  return box;
}
