// The only way the console builds DOM. Text always goes in as text nodes, never as markup: a visitor's
// name, message, page title or attribute cannot become HTML however it is written. There is no
// helper taking HTML on purpose.

export type Child = Node | string | number | null | undefined | false | Child[];

export interface Props {
  class?: string;
  /** Attributes, set with setAttribute (values are text). */
  attrs?: Record<string, string | number | boolean | null | undefined>;
  /** Event listeners. */
  on?: { [K in keyof HTMLElementEventMap]?: (event: HTMLElementEventMap[K]) => void };
  style?: string;
  /** Properties set on the element (value, checked, disabled…). */
  props?: Record<string, unknown>;
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props) {
    if (props.class) el.className = props.class;
    if (props.style) el.setAttribute("style", props.style);
    for (const [name, value] of Object.entries(props.attrs ?? {})) {
      if (value === null || value === undefined || value === false) continue;
      el.setAttribute(name, value === true ? "" : String(value));
    }
    for (const [name, value] of Object.entries(props.props ?? {})) {
      (el as unknown as Record<string, unknown>)[name] = value;
    }
    for (const [name, fn] of Object.entries(props.on ?? {})) {
      el.addEventListener(name, fn as EventListener);
    }
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces everything inside `parent`. */
export function mount(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** `mount` for lists redrawn on every change (the inbox's rows, the open chats' tabs): a new child equal
 * to one already there (`isEqualNode`: same tag, attributes and content) keeps the one already there,
 * which is never detached unless it moves. So a redraw that changes nothing under the pointer does not
 * swallow a click landing at that moment (a press on one node and a release on its replacement make no
 * click), and keyboard focus stays where it was. The kept node keeps its own listeners: only for
 * children whose listeners use nothing but what they show. */
export function mountKept(parent: Element, children: Element[]): void {
  for (const node of [...parent.childNodes]) if (!(node instanceof Element)) node.remove();
  const old = [...parent.children];
  const kept = new Set<Element>();
  const next = children.map((child) => {
    const same = old.find((o) => !kept.has(o) && o.isEqualNode(child));
    if (!same) return child;
    kept.add(same);
    return same;
  });
  next.forEach((node, i) => {
    if (parent.children[i] !== node) parent.insertBefore(node, parent.children[i] ?? null);
  });
  while (parent.children.length > next.length) parent.lastElementChild?.remove();
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function svg(tag: string, attrs: Record<string, string | number>, ...children: (Node | string)[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  for (const child of children) el.append(child);
  return el as SVGElement;
}

/** A labelled form field: `input` gets `id`, and the label points at it. */
export function field(label: string, input: HTMLElement, id: string): HTMLElement {
  input.id = id;
  return h("div", { class: "field" }, h("label", { attrs: { for: id } }, label), input);
}
