// Builds the visitor widget into server/papote/static/build/widget/ (served at /widget/):
//   loader.js  what every page view loads: the bubble and the command queue   (≤ 5 KB gzip)
//   panel.js   loaded on demand: the connection, msgpack and the chat panel   (≤ 40 KB gzip)
// Prints both gzip sizes and exits non-zero when one is over its budget, so CI catches growth.
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
const BUDGETS = { "loader.js": 5 * 1024, "panel.js": 40 * 1024 };

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

const panel = await bundle("panel/index.ts");
const panelVersion = createHash("sha256").update(panel).digest("hex").slice(0, 12);
// The loader asks for panel.js?v=<hash>: a new panel is fetched as soon as it changes, while the
// server can cache panel.js for long.
const loader = await bundle("loader/index.ts", { PANEL_VERSION: JSON.stringify(panelVersion) });

mkdirSync(outDir, { recursive: true });
let over = false;
for (const [name, code] of [["loader.js", loader], ["panel.js", panel]]) {
  writeFileSync(join(outDir, name), code);
  const gz = gzipSync(code, { level: 9 }).length;
  const budget = BUDGETS[name];
  const ok = gz <= budget;
  over ||= !ok;
  console.log(
    `${name.padEnd(10)} ${String(code.length).padStart(7)} B  gzip ${String(gz).padStart(6)} B  ` +
      `(budget ${budget} B) ${ok ? "ok" : "OVER BUDGET"}`,
  );
}
if (over && !dev) {
  console.error("widget build: a bundle is over its gzip budget");
  process.exit(1);
}
