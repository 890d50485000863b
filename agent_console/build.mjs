// Builds the agent console into server/papote/static/build/console/ (served at /console):
//   index.html   the page (no inline script: the console's CSP is script-src 'self')
//   console.js   the app, with the shared protocol client and msgpack
//   console.css  the styles (console.css, then phone.css: the phone's screens)
//   emoji.js     lazily loaded chunk: the emoji picker (the widget's, widget/src/emoji/), fetched the
//                first time an agent presses a composer's emoji button
//   sw.js        the service worker (alerts when the console is closed; this build's files offline)
//   manifest.webmanifest, icon-*.png   what makes the console an installable app (icons drawn here)
//
//   node agent_console/build.mjs          production build (minified)
//   node agent_console/build.mjs --dev    readable output with inline source maps

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { iconPng } from "./icons.mjs";

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
const css = readFileSync(join(here, "src", "console.css"), "utf8") + "\n" + readFileSync(join(here, "src", "phone.css"), "utf8");
const version = createHash("sha256").update(js).update(css).digest("hex").slice(0, 12);

mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, "console.js"), js);
writeFileSync(join(outDir, "emoji.js"), emoji);
writeFileSync(join(outDir, "console.css"), css);

// The service worker names its cache after this build, so a new build never serves the old files.
writeFileSync(join(outDir, "sw.js"), await bundle(join(here, "src", "sw.ts"), { PAPOTE_BUILD: JSON.stringify(version) }));

const THEME = "#4f46e5";
for (const size of [180, 192, 512]) writeFileSync(join(outDir, `icon-${size}.png`), iconPng(size));
writeFileSync(join(outDir, "icon-maskable-512.png"), iconPng(512, { maskable: true }));
writeFileSync(
  join(outDir, "manifest.webmanifest"),
  JSON.stringify(
    {
      id: "/console",
      name: "Papote",
      short_name: "Papote",
      description: "Answer your visitors' chats, from any device.",
      start_url: "/console",
      scope: "/console",
      display: "standalone",
      orientation: "any",
      background_color: "#f5f6f8",
      theme_color: THEME,
      icons: [
        { src: "/console/icon-192.png", sizes: "192x192", type: "image/png", purpose: "any" },
        { src: "/console/icon-512.png", sizes: "512x512", type: "image/png", purpose: "any" },
        { src: "/console/icon-maskable-512.png", sizes: "512x512", type: "image/png", purpose: "maskable" },
      ],
    },
    null,
    2,
  ) + "\n",
);
// The ?v= hash makes a new build reach agents as soon as the page reloads, despite caching.
writeFileSync(
  join(outDir, "index.html"),
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="theme-color" content="${THEME}">
<title>Papote</title>
<link rel="manifest" href="/console/manifest.webmanifest">
<link rel="icon" type="image/png" sizes="192x192" href="/console/icon-192.png">
<link rel="apple-touch-icon" href="/console/icon-180.png">
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
