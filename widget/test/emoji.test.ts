import assert from "node:assert/strict";
import { test } from "node:test";
import { insertAtCaret } from "../src/emoji/caret";
import { RECENT_MAX, fold, moveInGrid, parseCatalog, pushRecent, searchEmoji } from "../src/emoji/catalog";

const catalog = parseCatalog();

test("the catalogue: a few hundred emoji, each named in English and French, none twice", () => {
  assert.ok(catalog.length >= 300 && catalog.length <= 500, `${catalog.length} emoji`);
  const seen = new Set<string>();
  for (const entry of catalog) {
    assert.ok(entry.name.en && entry.name.fr, `${entry.emoji} has both names`);
    assert.ok(!/\s/.test(entry.emoji), `${entry.emoji} is one emoji`);
    assert.ok(!seen.has(entry.emoji), `${entry.emoji} is listed once`);
    seen.add(entry.emoji);
  }
  assert.equal(new Set(catalog.map((e) => e.category)).size, 8);
});

test("search finds English and French names, accents and ligatures folded", () => {
  const first = (q: string) => searchEmoji(catalog, q)[0]?.emoji;
  assert.equal(first("thumbs up"), "👍");
  assert.equal(first("pouce"), "👍");
  assert.equal(first("heart"), "❤️");
  assert.equal(first("cœur"), "❤️");
  assert.equal(first("Coeur"), "❤️");
  assert.equal(first("COLIS"), "📦");
  assert.equal(first("fête"), "🥳");
  assert.equal(first("fete"), "🥳");
  assert.ok(searchEmoji(catalog, "zzzzqq").length === 0);
  assert.deepEqual(searchEmoji(catalog, "   "), []);
  assert.ok(searchEmoji(catalog, "heart").every((e) => e.words.some((w) => w.includes("heart"))));
  assert.equal(fold("Œuf À l’eau"), "oeuf a l'eau");
});

test("recent emoji: the latest first, no repeats, bounded", () => {
  assert.deepEqual(pushRecent(["a", "b", "c"], "b"), ["b", "a", "c"]);
  const many = Array.from({ length: RECENT_MAX }, (_, i) => String(i));
  assert.equal(pushRecent(many, "new").length, RECENT_MAX);
  assert.equal(pushRecent(many, "new")[0], "new");
});

test("arrow keys, Home and End in a grid", () => {
  // 20 cells, 8 wide: rows 0-7, 8-15, 16-19.
  assert.equal(moveInGrid(0, "ArrowRight", 20, 8), 1);
  assert.equal(moveInGrid(0, "ArrowLeft", 20, 8), 0);
  assert.equal(moveInGrid(1, "ArrowDown", 20, 8), 9);
  assert.equal(moveInGrid(13, "ArrowDown", 20, 8), 13, "no cell below: stay");
  assert.equal(moveInGrid(9, "ArrowUp", 20, 8), 1);
  assert.equal(moveInGrid(3, "ArrowUp", 20, 8), 3);
  assert.equal(moveInGrid(10, "Home", 20, 8), 8);
  assert.equal(moveInGrid(10, "End", 20, 8), 15);
  assert.equal(moveInGrid(17, "End", 20, 8), 19, "a short last row");
  assert.equal(moveInGrid(10, "End", 20, 8, true), 19);
  assert.equal(moveInGrid(10, "Home", 20, 8, true), 0);
  assert.equal(moveInGrid(19, "ArrowRight", 20, 8), 19);
});

test("an emoji goes where the caret is, replacing a selection", () => {
  assert.deepEqual(insertAtCaret("Hello world", 5, 5, "👍"), { value: "Hello👍 world", caret: 7 });
  assert.deepEqual(insertAtCaret("Hello world", 6, 11, "🌍"), { value: "Hello 🌍", caret: 8 });
  assert.deepEqual(insertAtCaret("", 0, 0, "❤️"), { value: "❤️", caret: 2 });
  assert.deepEqual(insertAtCaret("abc", 99, 99, "!"), { value: "abc!", caret: 4 });
});
