// Builds the agent console into server/papote/static/build/console/ (served at /console):
//   index.html   the page (no inline script: the console's CSP is script-src 'self')
//   console.js   the app, with the shared protocol client and msgpack
//   console.css  the styles
//   emoji.js     lazily loaded chunk: the emoji picker (the widget's, widget/src/emoji/), fetched the
//                first time an agent presses a composer's emoji button
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

async function bundle(entry, define = {}) {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: "iife",
    target: ["es2020"],
    minify: !dev,
    sourcemap: dev ? "inline" : false,
    legalComments: "none",
    write: false,
    define,
  });
  return result.outputFiles[0].contents;
}

const emoji = await bundle(join(here, "..", "widget", "src", "emoji", "picker.ts"));
const emojiVersion = createHash("sha256").update(emoji).digest("hex").slice(0, 12);
const js = await bundle(join(here, "src", "main.ts"), { EMOJI_VERSION: JSON.stringify(emojiVersion) });
const version = createHash("sha256").update(js).digest("hex").slice(0, 12);

mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, "console.js"), js);
writeFileSync(join(outDir, "emoji.js"), emoji);
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
for (const [name, code, note] of [["console.js", js, ""], ["emoji.js", emoji, "  lazy"]]) {
  console.log(`${name.padEnd(10)} ${String(code.length).padStart(7)} B  gzip ${String(gzipSync(code, { level: 9 }).length).padStart(6)} B${note}`);
}
