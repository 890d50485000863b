import assert from "node:assert/strict";
import { test } from "node:test";
import type { ProactiveRule } from "../src/client/frames";
import { RuleRunner, conditionHolds, globMatch } from "../src/panel/rules";
import { panelStrings } from "../src/i18n/panel";
import { launcherStrings } from "../src/i18n/launcher";
import { pickLocale } from "../src/i18n/locale";

test("url globs", () => {
  assert.ok(globMatch("/checkout*", "https://shop.example/checkout/step-2"));
  assert.ok(!globMatch("/checkout*", "https://shop.example/cart"));
  assert.ok(globMatch("*pricing*", "https://shop.example/en/pricing?x=1"));
  assert.ok(!globMatch("/a.b", "https://shop.example/axb"), "a dot is literal");
});

test("conditions", () => {
  const rule = (op: ">" | "==", value: unknown): ProactiveRule =>
    ({ id: "r", trigger: "event", event: "add_to_cart", condition: { field: "value", op, value }, message: "hi" });
  assert.ok(conditionHolds(rule(">", 40), { value: 49 }));
  assert.ok(!conditionHolds(rule(">", 50), { value: 49 }));
  assert.ok(!conditionHolds(rule(">", 50), {}));
  assert.ok(conditionHolds(rule("==", "EUR"), { value: "EUR" }));
});

test("a rule fires once per visitor", () => {
  const fired = new Set<string>();
  const shown: string[] = [];
  const runner = new RuleRunner({ fired, onFire: (r) => shown.push(r.id), secondsOnPage: () => 0 });
  runner.setRules([{ id: "cart", trigger: "event", event: "add_to_cart", message: "Free shipping!" }], "https://x/");
  runner.onEvent("add_to_cart", {});
  runner.onEvent("add_to_cart", {});
  assert.deepEqual(shown, ["cart"]);
  const again = new RuleRunner({ fired, onFire: (r) => shown.push(r.id), secondsOnPage: () => 0 });
  again.setRules([{ id: "cart", trigger: "event", event: "add_to_cart", message: "Free shipping!" }], "https://x/");
  again.onEvent("add_to_cart", {});
  assert.deepEqual(shown, ["cart"]);
});

test("every string exists in every language", () => {
  assert.deepEqual(Object.keys(panelStrings.fr).sort(), Object.keys(panelStrings.en).sort());
  assert.deepEqual(Object.keys(launcherStrings.fr).sort(), Object.keys(launcherStrings.en).sort());
  assert.equal(pickLocale(null, "fr-CA", "en"), "fr");
  assert.equal(pickLocale("de-DE"), "en");
});
