#!/usr/bin/env node
// End-to-end test of the web client against a running `spacetime serve`,
// in real headless Chromium (playwright-core, /usr/bin/chromium), with an
// emulated Meta Quest 3 (IWER) for the VR path.
//
//   node web/test/e2e.mjs --url http://127.0.0.1:8080 --dev-key K \
//     --readonly-key K --admin-key K --out DIR [--chromium /usr/bin/chromium] [--seconds 5]
//
// Each check that fails ends the script with exit 1 and a line
// "e2e: FAIL <check>: <why>". Screenshots desktop.png and vr.png go to
// --out (and failure.png when a check fails). The last line on stdout is
// one JSON object with the results and figures.

import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { inflateSync, gzipSync } from "node:zlib";

const WEB = join(dirname(fileURLToPath(import.meta.url)), "..");

// ---- arguments ----

function parseArgs(argv) {
  const o = { chromium: "/usr/bin/chromium", seconds: 5, timeout: 30 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unexpected argument ${a}`);
    const v = m[2] !== undefined ? m[2] : argv[++i];
    if (v === undefined) throw new Error(`${a} needs a value`);
    const key = m[1].replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!["url", "devKey", "readonlyKey", "adminKey", "out", "chromium", "seconds", "timeout"].includes(key)) throw new Error(`unknown flag ${a}`);
    o[key] = ["seconds", "timeout"].includes(key) ? Number(v) : v;
  }
  for (const k of ["url", "devKey", "readonlyKey", "adminKey", "out"]) {
    if (!o[k]) throw new Error(`--${k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())} is required`);
  }
  o.url = o.url.replace(/\/+$/, "");
  return o;
}

// ---- small helpers ----

class CheckError extends Error {}

const log = (...a) => console.error("e2e:", ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls fn until it returns a truthy value or the deadline passes (then throws with what). */
async function until(what, fn, timeoutMs, intervalMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? `: ${last.message}` : last !== undefined && last !== false && last !== null ? `: last ${JSON.stringify(last)}` : "";
      throw new CheckError(`${what} did not happen within ${timeoutMs / 1000} s${why}`);
    }
    await sleep(intervalMs);
  }
}

/** Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium's screenshots are). */
export function decodePNG(buf) {
  if (buf.readUInt32BE(0) !== 0x89504e47) throw new Error("not a PNG");
  let off = 8;
  let width = 0, height = 0, colorType = 0, depth = 0, interlace = 0;
  const idat = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString("latin1", off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      depth = data[8];
      colorType = data[9];
      interlace = data[12];
    } else if (type === "IDAT") idat.push(data);
    else if (type === "IEND") break;
    off += 12 + len;
  }
  if (depth !== 8 || (colorType !== 2 && colorType !== 6) || interlace !== 0) throw new Error(`unsupported PNG (depth ${depth}, color type ${colorType}, interlace ${interlace})`);
  const bpp = colorType === 6 ? 4 : 3;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const out = Buffer.alloc(width * height * 4);
  let prev = Buffer.alloc(stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const line = Buffer.from(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)));
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? line[x - bpp] : 0;
      const b = prev[x];
      const c = x >= bpp ? prev[x - bpp] : 0;
      let v = line[x];
      if (f === 1) v += a;
      else if (f === 2) v += b;
      else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) {
        const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      line[x] = v & 255;
    }
    for (let x = 0; x < width; x++) {
      out[(y * width + x) * 4] = line[x * bpp];
      out[(y * width + x) * 4 + 1] = line[x * bpp + 1];
      out[(y * width + x) * 4 + 2] = line[x * bpp + 2];
      out[(y * width + x) * 4 + 3] = bpp === 4 ? line[x * bpp + 3] : 255;
    }
    prev = line;
  }
  return { width, height, rgba: out };
}

/** What a screenshot shows: the share of lit pixels and how many distinct colours. */
function pixelStats(png) {
  const { width, height, rgba } = decodePNG(png);
  let lit = 0;
  const colors = new Set();
  for (let i = 0; i < width * height; i++) {
    const r = rgba[4 * i], g = rgba[4 * i + 1], b = rgba[4 * i + 2];
    if (r + g + b > 120) lit++;
    colors.add(((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3));
  }
  return { width, height, lit, litShare: lit / (width * height), colors: colors.size };
}

/** Loads a dev dependency, or says how to install it. */
async function need(name) {
  try {
    return await import(name);
  } catch (err) {
    throw new CheckError(`${name} is not installed (${err.code || err.message}): run npm ci in ${WEB}`);
  }
}

/** Builds the IWER runtime into one script for page.addInitScript (the page itself never ships it). */
async function iwerScript() {
  const { build } = await need("esbuild");
  await need("iwer");
  const r = await build({
    stdin: {
      contents: `
        import { XRDevice, metaQuest3 } from "iwer";
        const device = new XRDevice(metaQuest3);
        device.installRuntime({ forceInstall: true });
        Object.defineProperty(window, "__iwerDevice", { value: device });
      `,
      resolveDir: WEB,
      loader: "js",
    },
    bundle: true,
    format: "iife",
    write: false,
    minify: true,
    logLevel: "silent",
    target: ["chrome100"],
  });
  return r.outputFiles[0].text;
}

// ---- the API from Node (to check what the server says) ----

class Server {
  constructor(base) {
    this.base = base;
  }

  async call(method, path, { token, body } = {}) {
    const headers = { Accept: "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = text;
    }
    return { status: r.status, data };
  }

  async login(key) {
    const r = await this.call("POST", "/auth/token", { body: { api_key: key } });
    if (r.status !== 200 || !r.data || !r.data.access_token) {
      throw new CheckError(`POST /auth/token with the given key answered ${r.status} ${JSON.stringify(r.data)}`);
    }
    return r.data;
  }
}

// ---- the run ----

async function main() {
  const opt = parseArgs(process.argv.slice(2));
  await mkdir(opt.out, { recursive: true });
  const T = opt.timeout * 1000;
  const origin = new URL(opt.url).origin;
  const server = new Server(opt.url);
  const result = { ok: false, url: opt.url, checks: [], figures: {}, screenshots: [] };
  const consoleErrors = [];
  const external = [];
  let expectedFailures = []; // [method, path, status] the current step provokes on purpose
  let page = null;
  let context = null;
  let current = "setup";

  const check = async (name, fn) => {
    current = name;
    const t0 = Date.now();
    log(`… ${name}`);
    const detail = await fn();
    result.checks.push({ name, ok: true, ms: Date.now() - t0, ...(detail && typeof detail === "object" ? { detail } : {}) });
    log(`ok ${name}`);
    return detail;
  };

  const watch = (p, label) => {
    p.on("console", (m) => {
      if (m.type() !== "error") return;
      const loc = m.location() || {};
      const url = loc.url || "";
      // The browser reports an HTTP error answer to fetch() as a console
      // error; the ones a step provokes on purpose (the 403 of a
      // non-whitelisted scene, say) are expected.
      const status = /status of (\d{3})/.exec(m.text());
      if (status && expectedFailures.some(([, path, st]) => url.startsWith(origin + path) && Number(status[1]) === st)) return;
      consoleErrors.push(`${label} [${current}] ${m.text()}${url ? ` (${url})` : ""}`);
    });
    p.on("pageerror", (e) => consoleErrors.push(`${label} [${current}] uncaught: ${e.message}`));
    p.on("request", (r) => {
      const u = r.url();
      if (u.startsWith("data:") || u.startsWith("blob:")) return;
      if (new URL(u).origin !== origin) external.push(u);
    });
  };

  const noErrors = (what) => {
    if (consoleErrors.length) throw new CheckError(`${what}: console errors: ${consoleErrors.join(" | ")}`);
    if (external.length) throw new CheckError(`${what}: requests outside ${origin}: ${external.join(", ")}`);
  };

  const stats = (p = page) => p.evaluate(() => (window.spacetime ? window.spacetime.stats : null));

  const userDataDir = await mkdtemp(join(tmpdir(), "spacetime-e2e-"));
  try {
    const { chromium } = await need("playwright-core");
    const health = await server.call("GET", "/health").catch((err) => ({ status: 0, data: err.message }));
    if (health.status !== 200) throw new CheckError(`GET ${opt.url}/health answered ${health.status} ${JSON.stringify(health.data)}`);
    const devGrant = await server.login(opt.devKey);
    if (devGrant.role !== "developer" && devGrant.role !== "admin") throw new CheckError(`--dev-key logs in as ${devGrant.role}, not developer`);
    const token = devGrant.access_token;

    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: opt.chromium,
      headless: true,
      args: [
        "--headless", "--no-sandbox", "--disable-gpu", "--enable-unsafe-swiftshader", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
      ],
      viewport: { width: 1280, height: 800 },
    });
    page = context.pages()[0] || (await context.newPage());
    watch(page, "desktop");
    page.setDefaultTimeout(T);

    await check("page loads without console errors", async () => {
      const resp = await page.goto(opt.url + "/", { waitUntil: "load" });
      if (!resp || resp.status() !== 200) throw new CheckError(`GET / answered ${resp ? resp.status() : "nothing"}`);
      const csp = resp.headers()["content-security-policy"] || "";
      await until("the client to start", async () => (await stats()) !== null, T);
      await until("the telemetry stream to connect or ask for a login", async () => {
        const s = await stats();
        return s && (s.telemetry === "live" || s.telemetry === "login") && s.telemetry;
      }, T);
      await sleep(1000);
      noErrors("after loading");
      return { csp: csp.slice(0, 40) + (csp.length > 40 ? "…" : "") };
    });

    await check("login works (developer key)", async () => {
      await page.fill("#api-key", opt.devKey);
      await page.click("#login-form button[type=submit]");
      await until("the page to show role developer", async () => (await page.textContent("#role").catch(() => "")) === devGrant.role, T);
      await until("the stream to be live with the login and the scene's data", async () => {
        const s = await stats();
        return s && s.telemetry === "live" && s.authMethod === "ticket" && s.hasData && s.bodies > 0;
      }, T);
      noErrors("after login");
    });

    await check("the canvas is not blank", async () => {
      await sleep(1500);
      const png = await page.locator("#view").screenshot();
      const ps = pixelStats(png);
      // Stars alone light about 0.5 % of the view: ask for a body's worth.
      if (ps.litShare < 0.015 || ps.colors < 8) throw new CheckError(`the 3D view looks blank: ${ps.lit} lit pixels of ${ps.width}×${ps.height} (${(100 * ps.litShare).toFixed(2)} %), ${ps.colors} colours`);
      return { lit_share: Number(ps.litShare.toFixed(3)), colors: ps.colors };
    });

    await check("plots advance", async () => {
      const read = () => page.$$eval(".plot", (figs) => figs.map((f) => ({ id: f.id, points: Number(f.dataset.points), last: Number(f.dataset.last) })));
      const before = await until("the plots to have data", async () => {
        const r = await read();
        return r.length >= 6 && r.every((p) => p.points > 0) && r;
      }, T);
      const after = await until("the plots to advance", async () => {
        const r = await read();
        return r.every((p, i) => p.last > before[i].last && p.points >= before[i].points) && r;
      }, T);
      return Object.fromEntries(after.map((p) => [p.id, p.points]));
    });

    let historyBefore = 0;
    await check("a scene load from the dashboard shows in history", async () => {
      const h0 = await server.call("GET", "/scene/history?limit=1000", { token });
      historyBefore = Array.isArray(h0.data) ? h0.data.length : 0;
      await page.waitForSelector("#scene-form");
      const target = "res://vr_main.tscn";
      await page.selectOption("#scene-select", target);
      await page.fill("#scene-path", "");
      await page.click("#scene-load");
      await until("the load result", async () => /Loaded res:\/\/vr_main\.tscn/.test(await page.textContent("#scene-result")), T);
      await until("the new entry in the history table", async () => {
        const count = Number(await page.getAttribute("#history-body", "data-count"));
        const first = await page.textContent("#history-body tbody tr:first-child").catch(() => "");
        return count === historyBefore + 1 && first.includes(target) && first.includes("loaded") && first;
      }, T);
      const h1 = await server.call("GET", "/scene/history?limit=1000", { token });
      const last = h1.data[h1.data.length - 1];
      if (!last || last.scene_path !== target || last.status !== "loaded") throw new CheckError(`GET /scene/history does not end with the load: ${JSON.stringify(last)}`);
      // The viewer follows the reloaded scene.
      await until("the viewer to have the belt again", async () => (await stats()).beltPoints > 0, T);
      return { load_time_ms: last.load_time_ms };
    });

    await check("a non-whitelisted scene shows the 403 message", async () => {
      const bad = "res://private/e2e-not-whitelisted.tscn";
      // What the API itself says about this path (validate applies the same whitelist, without a history entry).
      const api = await server.call("POST", "/scene/validate", { token, body: { scene_path: bad } });
      if (api.status !== 403) throw new CheckError(`POST /scene/validate of ${bad} answered ${api.status}, expected 403 (is the path whitelisted?)`);
      expectedFailures = [["POST", "/scene/load", 403]];
      await page.fill("#scene-path", bad);
      await page.click("#scene-load");
      const text = await until("the refusal message", async () => {
        const t = await page.textContent("#scene-result");
        return /refused/i.test(t) && t;
      }, T);
      if (!text.includes("403") || !text.includes(api.data.detail)) throw new CheckError(`the page says "${text}", expected the 403 and the API's detail "${api.data.detail}"`);
      const cls = await page.getAttribute("#scene-result", "class");
      if (!/error/.test(cls)) throw new CheckError(`the refusal is not shown as an error (class "${cls}")`);
      const h2 = await server.call("GET", "/scene/history?limit=1000", { token });
      if (h2.data.length !== historyBefore + 1) throw new CheckError(`the refused load changed the history (${h2.data.length} entries)`);
      await page.fill("#scene-path", "");
      expectedFailures = [];
      return { message: text };
    });

    await check("client frame rate with the full asteroid belt", async () => {
      const s0 = await stats();
      const scene = await server.call("GET", "/state/scene", { token });
      const world = scene.data && scene.data.particles ? scene.data.particles.count : 0;
      if (!world) throw new CheckError("the scene has no asteroid belt (GET /state/scene particles.count is 0)");
      if (s0.beltPoints !== world) throw new CheckError(`the viewer draws ${s0.beltPoints} belt particles of ${world}`);
      const seconds = opt.seconds;
      // Frames the page gets (requestAnimationFrame) over `seconds`.
      const measure = async () => {
        const frames = await page.evaluate((ms) => new Promise((resolve) => {
          let n = 0;
          const t0 = performance.now();
          const tick = (t) => {
            n++;
            if (t - t0 < ms) requestAnimationFrame(tick);
            else resolve({ n, ms: t - t0 });
          };
          requestAnimationFrame(tick);
        }), seconds * 1000);
        return (frames.n * 1000) / frames.ms;
      };
      // As shipped: dynamic resolution on (it has had the run so far to settle).
      const fps = await measure();
      const s1 = await stats();
      if (!(s1.frames > s0.frames)) throw new CheckError("the viewer rendered no frame while measuring");
      // At full resolution: dynamic resolution off in the settings.
      await page.uncheck("#set-dynamicResolution");
      await until("the render scale to return to 1", async () => (await stats()).renderScale === 1, T);
      await sleep(1000);
      const fpsFull = await measure();
      await page.check("#set-dynamicResolution");
      result.figures.client_fps = Number(fps.toFixed(1));
      result.figures.client_fps_render_scale = s1.renderScale;
      result.figures.client_fps_full_scale = Number(fpsFull.toFixed(1));
      result.figures.antialias = s1.antialias;
      result.figures.belt_particles = s1.beltPoints;
      result.figures.viewport = "1280x800";
      log(`client frame rate ${fps.toFixed(1)} fps at render scale ${s1.renderScale} (dynamic resolution), ${fpsFull.toFixed(1)} fps at full scale; requestAnimationFrame over ${seconds} s, ${s1.beltPoints} belt particles, antialias ${s1.antialias}`);
      return { fps: result.figures.client_fps, render_scale: s1.renderScale, fps_full_scale: result.figures.client_fps_full_scale };
    });

    await check("desktop screenshot", async () => {
      const file = join(opt.out, "desktop.png");
      await page.evaluate(() => { document.getElementById("panel").scrollTop = 0; });
      await sleep(600); // a plot redraw
      await page.screenshot({ path: file });
      result.screenshots.push(file);
    });

    await check("logout", async () => {
      await page.click("#logout");
      await until("the login form", async () => (await page.$("#login-form")) !== null, T);
      noErrors("after logout");
    });

    await check("readonly login does not offer scene load", async () => {
      await page.fill("#api-key", opt.readonlyKey);
      await page.click("#login-form button[type=submit]");
      await until("the page to show role readonly", async () => (await page.textContent("#role").catch(() => "")) === "readonly", T);
      await until("the current scene", async () => (await page.$("#current-scene")) !== null, T);
      for (const sel of ["#scene-form", "#scene-load", "#scene-reload", "#scene-path"]) {
        if ((await page.locator(sel).count()) !== 0) throw new CheckError(`a readonly login is offered ${sel}`);
      }
      if (await page.isVisible("#admin")) throw new CheckError("a readonly login is offered the admin section");
      await until("the stream to reconnect with the readonly login", async () => {
        const s = await stats();
        return s.telemetry === "live" && s.role === "readonly" && s.authMethod === "ticket";
      }, T);
      const note = await page.textContent("#pilot-note");
      if (!/developer/.test(note)) throw new CheckError(`piloting is not marked unavailable for readonly (note "${note}")`);
      await page.click("#logout");
      await until("the login form", async () => (await page.$("#login-form")) !== null, T);
    });

    await check("admin sees sessions, bans and the audit log", async () => {
      await page.fill("#api-key", opt.adminKey);
      await page.click("#login-form button[type=submit]");
      await until("the page to show role admin", async () => (await page.textContent("#role").catch(() => "")) === "admin", T);
      await until("the admin tables", async () => {
        if (!(await page.isVisible("#admin"))) return false;
        const text = await page.textContent("#admin-body");
        const rows = await page.locator("#admin-body tbody tr").count();
        return /Sessions/.test(text) && /Bans/.test(text) && /Audit log/.test(text) && rows >= 2 && rows;
      }, T);
      if ((await page.locator("#scene-form").count()) !== 1) throw new CheckError("an admin login is not offered the scene load form");
      await page.click("#logout");
      await until("the login form", async () => (await page.$("#login-form")) !== null, T);
      noErrors("after the admin pages");
    });
    await page.close();

    // ---- VR, with an emulated Meta Quest 3 in a new page ----
    const vr = await context.newPage();
    page = vr;
    watch(vr, "vr");
    vr.setDefaultTimeout(T);
    await vr.addInitScript({ content: await iwerScript() });

    await check("VR: Enter VR starts a session and XR frames render", async () => {
      await vr.goto(opt.url + "/", { waitUntil: "load" });
      await until("the client to start", async () => (await stats()) !== null, T);
      await vr.fill("#api-key", opt.devKey);
      await vr.click("#login-form button[type=submit]");
      await until("the stream to be live with the login and data", async () => {
        const s = await stats();
        return s && s.telemetry === "live" && s.authMethod === "ticket" && s.hasData;
      }, T);
      const button = vr.getByRole("button", { name: /enter vr/i });
      await until("the Enter VR button", async () => (await button.count()) === 1 && (await button.isVisible()), T);
      await button.click();
      const s0 = await until("XR frames", async () => {
        const s = await stats();
        return s.xrFrames > 10 && s;
      }, T);
      await sleep(1000);
      const s1 = await stats();
      if (!(s1.xrFrames > s0.xrFrames)) throw new CheckError("XR frames stopped");
      result.figures.xr_fps = Number((s1.fps || 0).toFixed(1));
      result.figures.xr_render_scale = s1.renderScale;
      return { xr_frames: s1.xrFrames, headset: s1.headset };
    });

    await check("VR: /state/vr reports the headset", async () => {
      const v = await until("GET /state/vr to report a WebXR headset", async () => {
        const r = await server.call("GET", "/state/vr", { token });
        return r.status === 200 && r.data.headset_connected === true && r.data.runtime === "WebXR" && r.data.headset_type && r.data;
      }, T);
      result.figures.headset_type = v.headset_type;
      return { headset_type: v.headset_type, vr_enabled: v.vr_enabled };
    });

    await check("VR screenshot", async () => {
      const file = join(opt.out, "vr.png");
      await vr.screenshot({ path: file });
      result.screenshots.push(file);
      const ps = pixelStats(await readFile(file));
      if (ps.litShare < 0.015) throw new CheckError(`the VR view looks blank: ${ps.lit} lit pixels (${(100 * ps.litShare).toFixed(2)} %)`);
      return { lit_share: Number(ps.litShare.toFixed(3)) };
    });

    await check("VR: a controller thumbstick moves the ship", async () => {
      const p0 = await server.call("GET", "/state/player", { token });
      if (p0.status !== 200) throw new CheckError(`GET /state/player answered ${p0.status} ${JSON.stringify(p0.data)}`);
      await vr.evaluate(() => window.__iwerDevice.controllers.left.updateAxes("thumbstick", 0, -1));
      const p1 = await until("the player's input to follow the thumbstick", async () => {
        const r = await server.call("GET", "/state/player", { token });
        return r.status === 200 && r.data.input.throttle.z < -0.5 && r.data;
      }, T);
      await sleep(500);
      const p2 = (await server.call("GET", "/state/player", { token })).data;
      const moved = ["x", "y", "z"].some((k) => p2.position[k] !== p0.data.position[k]);
      const dv = Math.hypot(p2.velocity.x - p0.data.velocity.x, p2.velocity.y - p0.data.velocity.y, p2.velocity.z - p0.data.velocity.z);
      if (!moved || !(dv > 0)) throw new CheckError(`the ship did not move: position ${JSON.stringify(p2.position)}, Δv ${dv}`);
      await vr.evaluate(() => window.__iwerDevice.controllers.left.updateAxes("thumbstick", 0, 0));
      await until("the player's input to return to zero", async () => {
        const r = await server.call("GET", "/state/player", { token });
        const t = r.data.input.throttle;
        return r.status === 200 && t.x === 0 && t.y === 0 && t.z === 0;
      }, T);
      return { throttle_z: p1.input.throttle.z, delta_v_m_s: Number(dv.toFixed(3)) };
    });

    await check("VR: ending the session returns /state/vr to the desktop fallback", async () => {
      await vr.evaluate(() => window.__iwerDevice.activeSession && window.__iwerDevice.activeSession.end());
      const v = await until("GET /state/vr to fall back to desktop", async () => {
        const r = await server.call("GET", "/state/vr", { token });
        return r.status === 200 && r.data.headset_connected === false && r.data.fallback_mode === "desktop" && r.data;
      }, T);
      await until("the Enter VR button again", async () => (await vr.getByRole("button", { name: /enter vr/i }).count()) === 1, T);
      noErrors("after the VR session");
      return v;
    });

    // The bundle as shipped, for the figures.
    try {
      let gz = 0;
      for (const dir of ["dist", "dist/assets"]) {
        for (const name of await readdir(join(WEB, dir))) {
          const p = join(WEB, dir, name);
          if (name !== ".gitkeep" && (await stat(p)).isFile()) gz += gzipSync(await readFile(p), { level: 9 }).length;
        }
      }
      result.figures.bundle_gzip_bytes = gz;
    } catch {
      /* not built here: the figure is left out */
    }
    result.ok = true;
  } catch (err) {
    result.ok = false;
    result.failed = current;
    result.error = err.message;
    console.error(`e2e: FAIL ${current}: ${err.message}`);
    if (!(err instanceof CheckError) && err.stack) console.error(err.stack);
    if (page && !page.isClosed()) {
      const file = join(opt.out, "failure.png");
      await page.screenshot({ path: file }).then(() => result.screenshots.push(file), () => {});
    }
  } finally {
    result.console_errors = consoleErrors;
    if (context) await context.close().catch(() => {});
    await rm(userDataDir, { recursive: true, force: true }).catch(() => {});
  }
  console.log(JSON.stringify(result));
  process.exit(result.ok ? 0 : 1);
}

// Run when executed (the unit tests import decodePNG from here).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`e2e: FAIL setup: ${err.message}`);
    console.log(JSON.stringify({ ok: false, failed: "setup", error: err.message }));
    process.exit(1);
  });
}
