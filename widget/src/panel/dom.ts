// Tiny DOM helpers. Text always goes in through textContent or text nodes: message bodies are
// plain text from strangers, so no string from the network ever reaches innerHTML.

type Attrs = Record<string, string | number | boolean | null | undefined | ((event: Event) => void)>;
type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") element.addEventListener(key.replace(/^on/, ""), value);
    else if (key === "class") element.className = String(value);
    else element.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) if (child) element.append(child);
  return element;
}

// http(s) URLs only; a URL may not end with punctuation that usually closes the sentence.
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]}]/gi;

/** The body as text nodes and <a> elements for its http(s) links. */
export function linkify(body: string): DocumentFragment {
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const match of body.matchAll(URL_PATTERN)) {
    const start = match.index ?? 0;
    if (start > last) fragment.append(body.slice(last, start));
    const a = document.createElement("a");
    a.href = match[0];
    a.textContent = match[0];
    a.rel = "noopener noreferrer";
    a.target = "_blank";
    fragment.append(a);
    last = start + match[0].length;
  }
  if (last < body.length) fragment.append(body.slice(last));
  return fragment;
}

/** Only http(s) image URLs become <img src>; anything else (javascript:, data:) is dropped. */
export function safeImageUrl(url: string | null | undefined): string | null {
  return url && /^https?:\/\//i.test(url) ? url : null;
}
