// Builds the web client into dist/: index.html and assets/app.js,
// assets/app.css, assets/icon.svg. The Go binary embeds dist/ and serves it
// at / (see web/embed.go). Usage: node build.mjs [--dev] (--dev: no
// minification, inline source maps).

import { build } from "esbuild";
import { mkdir, readFile, rm, writeFile, readdir, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, "src");
const dist = join(here, "dist");
const assets = join(dist, "assets");
const dev = process.argv.includes("--dev");

const ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="12" fill="#05070d"/><circle cx="32" cy="32" r="9" fill="#ffd89a"/><ellipse cx="32" cy="32" rx="26" ry="10" fill="none" stroke="#7dd3fc" stroke-width="3" transform="rotate(-25 32 32)"/><circle cx="52" cy="22" r="4" fill="#3f6fd0"/></svg>\n`;

async function main() {
  // Only what this script writes: dist/.gitkeep and the rest stay.
  await rm(assets, { recursive: true, force: true });
  await rm(join(dist, "index.html"), { force: true });
  await mkdir(assets, { recursive: true });

  await build({
    entryPoints: { app: join(src, "main.js") },
    outdir: assets,
    bundle: true,
    minify: !dev,
    sourcemap: dev ? "inline" : false,
    format: "iife",
    target: ["chrome100", "firefox100", "safari15"],
    legalComments: "none",
    logLevel: "warning",
    charset: "utf8",
    define: { "process.env.NODE_ENV": '"production"' },
  });
  await writeFile(join(assets, "icon.svg"), ICON);
  await writeFile(join(dist, "index.html"), await readFile(join(src, "index.html")));

  let raw = 0;
  let gz = 0;
  const rows = [];
  for (const dir of [dist, assets]) {
    for (const name of (await readdir(dir)).sort()) {
      const p = join(dir, name);
      if (!(await stat(p)).isFile() || name === ".gitkeep") continue;
      const body = await readFile(p);
      const z = gzipSync(body, { level: 9 }).length;
      raw += body.length;
      gz += z;
      rows.push(`  ${p.slice(dist.length + 1).padEnd(20)} ${String(body.length).padStart(9)} B  gzip ${String(z).padStart(8)} B`);
    }
  }
  console.log(`web client built into ${dist}${dev ? " (development build)" : ""}`);
  console.log(rows.join("\n"));
  console.log(`bundle size: ${(raw / 1024).toFixed(1)} KiB, gzipped ${(gz / 1024).toFixed(1)} KiB (${gz} B)`);
}

main().catch((err) => {
  console.error(`web build failed: ${err.message}`);
  process.exit(1);
});
