// Builds the agent console into server/papote/static/build/console/ (served at /console):
//   index.html   the page (no inline script: the console's CSP is script-src 'self')
//   console.js   the app, with the shared protocol client and msgpack
//   console.css  the styles
//
//   node agent_console/build.mjs          production build (minified)
//   node agent_console/build.mjs --dev    readable output with inline source maps

import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, "..", "server", "papote", "static", "build", "console");
const dev = process.argv.includes("--dev");

const result = await build({
  entryPoints: [join(here, "src", "main.ts")],
  bundle: true,
  format: "iife",
  target: ["es2020"],
  minify: !dev,
  sourcemap: dev ? "inline" : false,
  legalComments: "none",
  write: false,
});
const js = result.outputFiles[0].contents;
const version = createHash("sha256").update(js).digest("hex").slice(0, 12);

mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, "console.js"), js);
copyFileSync(join(here, "src", "console.css"), join(outDir, "console.css"));
// The ?v= hash makes a new build reach agents as soon as the page reloads, despite caching.
writeFileSync(
  join(outDir, "index.html"),
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Papote</title>
<link rel="stylesheet" href="/console/console.css?v=${version}">
<script defer src="/console/console.js?v=${version}"></script>
</head>
<body>
<div id="app"></div>
</body>
</html>
`,
);
console.log(`console.js ${String(js.length).padStart(7)} B  gzip ${String(gzipSync(js, { level: 9 }).length).padStart(6)} B`);
