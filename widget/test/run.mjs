// Runs the widget's unit tests (widget/test/*.test.ts) with node's own test runner: each file is
// bundled by esbuild first, since node cannot run TypeScript. No browser needed.
import { readdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = mkdtempSync(join(tmpdir(), "papote-widget-test-"));
const files = readdirSync(here).filter((f) => f.endsWith(".test.ts"));
await build({
  entryPoints: files.map((f) => join(here, f)),
  bundle: true,
  platform: "node",
  format: "esm",
  outdir: out,
  outExtension: { ".js": ".mjs" },
  logLevel: "warning",
});
const result = spawnSync(process.execPath, ["--test", ...files.map((f) => join(out, f.replace(/\.ts$/, ".mjs")))], {
  stdio: "inherit",
});
rmSync(out, { recursive: true, force: true });
process.exit(result.status ?? 1);
