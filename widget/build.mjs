// Builds the visitor widget into server/papote/static/build/widget/ (served at /widget/):
//   loader.js  what every page view loads: the bubble and the command queue   (≤ 5 KB gzip)
//   panel.js   loaded on demand: the connection, msgpack and the chat panel   (≤ 40 KB gzip)
//   emoji.js   lazily loaded chunk: the emoji picker and its data, fetched the first time the
//              composer's emoji button is pressed                             (≤ 16 KB gzip)
// Prints every gzip size and exits non-zero when one is over its budget, so CI catches growth.
// Lazily loaded chunks are marked "lazy" (bench/run.py row 8 lists them apart from the budgets of
// ARCHITECTURE.md, which are about what every page view or every opened chat pays).
//
//   node widget/build.mjs            production build (minified)
//   node widget/build.mjs --dev      readable output with inline source maps

import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, "..", "server", "papote", "static", "build", "widget");
const dev = process.argv.includes("--dev");

// Budgets in bytes of gzip -9 output; docs/widget-api.md says why they are what they are.
// The emoji chunk's: a few hundred emoji with their names in two languages fit in well under it; a
// visitor pressing the button waits for it, so it stays small even though no page view pays for it.
const BUDGETS = { "loader.js": 5 * 1024, "panel.js": 40 * 1024, "emoji.js": 16 * 1024 };
const LAZY = new Set(["emoji.js"]);

async function bundle(entry, define = {}) {
  const result = await build({
    entryPoints: [join(here, "src", entry)],
    bundle: true,
    format: "iife",
    // Browsers of the last few years; es2019 keeps optional chaining/?? transpiled for older Safari.
    target: ["es2019"],
    minify: !dev,
    sourcemap: dev ? "inline" : false,
    legalComments: "none",
    write: false,
    define,
  });
  return result.outputFiles[0].contents;
}

const emoji = await bundle("emoji/picker.ts");
const emojiVersion = createHash("sha256").update(emoji).digest("hex").slice(0, 12);
// The panel asks for emoji.js?v=<hash>, as the loader does for the panel.
const panel = await bundle("panel/index.ts", { EMOJI_VERSION: JSON.stringify(emojiVersion) });
const panelVersion = createHash("sha256").update(panel).digest("hex").slice(0, 12);
// The loader asks for panel.js?v=<hash>: a new panel is fetched as soon as it changes, while the
// server can cache panel.js for long.
const loader = await bundle("loader/index.ts", { PANEL_VERSION: JSON.stringify(panelVersion) });

mkdirSync(outDir, { recursive: true });
let over = false;
for (const [name, code] of [["loader.js", loader], ["panel.js", panel], ["emoji.js", emoji]]) {
  writeFileSync(join(outDir, name), code);
  const gz = gzipSync(code, { level: 9 }).length;
  const budget = BUDGETS[name];
  const ok = gz <= budget;
  over ||= !ok;
  console.log(
    `${name.padEnd(10)} ${String(code.length).padStart(7)} B  gzip ${String(gz).padStart(6)} B  ` +
      `(budget ${budget} B) ${ok ? "ok" : "OVER BUDGET"}${LAZY.has(name) ? "  lazy" : ""}`,
  );
}
if (over && !dev) {
  console.error("widget build: a bundle is over its gzip budget");
  process.exit(1);
}
