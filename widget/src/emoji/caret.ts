// Putting text where the caret is: the emoji picker's insertion, for the widget's and the console's
// composers. Kept apart from the picker so the composers carry it without the emoji data.

/** Text with `insert` put in place of the selection [start, end): the new value and where the caret goes. */
export function insertAtCaret(value: string, start: number, end: number, insert: string): { value: string; caret: number } {
  const from = Math.max(0, Math.min(start, value.length));
  const to = Math.max(from, Math.min(end, value.length));
  return { value: value.slice(0, from) + insert + value.slice(to), caret: from + insert.length };
}
