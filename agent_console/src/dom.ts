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
