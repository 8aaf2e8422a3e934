// The dashboard: login with an API key, live plots of the perf stream,
// the current scene with load/reload (developers), the scene history, and
// for admins the sessions, bans and audit log. Controls a role may not use
// are not rendered at all.

import uPlot from "uplot";
import { ApiError, roleAllows } from "./api.js";
import { fmtNum, fmtTime, h, setChildren, table } from "./dom.js";

const WINDOW_POINTS = 1200; // 2 minutes of perf at 10 Hz

const PLOTS = [
  { id: "fps", title: "Frame rate (Hz)", series: [["Engine", (d) => d.fps, "#7dd3fc"], ["Client render", (d, v) => v, "#fbbf24"]] },
  { id: "tick", title: "Tick time (ms)", series: [["p50", (d) => d.tick_p50_ms, "#a7f3d0"], ["p99", (d) => d.tick_p99_ms, "#f9a8d4"]] },
  { id: "memory", title: "Memory (MB)", series: [["Resident", (d) => d.memory_mb, "#c4b5fd"]] },
  { id: "rps", title: "HTTP requests per second", series: [["Requests/s", (d) => d.http_rps, "#fdba74"]] },
  { id: "latency", title: "HTTP latency (ms)", series: [["p50", (d) => d.http_p50_ms, "#93c5fd"], ["p95", (d) => d.http_p95_ms, "#fca5a5"]] },
  { id: "subs", title: "Telemetry subscribers", series: [["Subscribers", (d) => d.subscribers, "#86efac"]] },
];

const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);

function describe(err) {
  if (err instanceof ApiError) return err.message;
  return err && err.message ? err.message : String(err);
}

export class Dashboard {
  /**
   * @param {HTMLElement} panel
   * @param {import('./api.js').Api} api
   * @param {import('./telemetry.js').Telemetry} telemetry
   * @param {() => number} clientFps
   */
  constructor(panel, api, telemetry, clientFps) {
    this.panel = panel;
    this.api = api;
    this.telemetry = telemetry;
    this.clientFps = clientFps;
    this.el = {
      account: panel.querySelector("#account-body"),
      plots: panel.querySelector("#plots"),
      scene: panel.querySelector("#scene-body"),
      history: panel.querySelector("#history-body"),
      admin: panel.querySelector("#admin"),
      adminBody: panel.querySelector("#admin-body"),
      events: panel.querySelector("#events-list"),
    };
    this.sceneMessage = null;
    this.data = [[]].concat(PLOTS.flatMap((p) => p.series.map(() => [])));
    this.plots = [];
    this.renderAccount();
    this.buildPlots();

    api.addEventListener("change", () => this.onLogin());
    telemetry.addEventListener("perf", (e) => this.onPerf(e.detail));
    telemetry.addEventListener("events", (e) => this.onEvent(e.detail));
    setInterval(() => this.drawPlots(), 500);
    setInterval(() => {
      if (this.api.loggedIn && this.visible()) this.refreshScene();
    }, 15000);
    setInterval(() => {
      if (this.api.loggedIn && roleAllows(this.api.role, "admin") && this.visible()) this.refreshAdmin();
    }, 30000);
    this.onLogin();
  }

  visible() {
    return !this.panel.hidden && document.visibilityState !== "hidden";
  }

  // ---- account ----

  renderAccount(message = "", isError = false) {
    const api = this.api;
    const status = h("p", { id: "login-status", class: isError ? "msg error" : "msg", role: isError ? "alert" : "status" }, message);
    if (api.loggedIn) {
      // The paragraph below says it already; the status only announces it.
      if (!isError) status.classList.add("sr-only");
      setChildren(
        this.el.account,
        h("p", {}, "Logged in as ", h("strong", { id: "role" }, api.role), "."),
        h("button", { type: "button", id: "logout", onclick: () => this.logout() }, "Log out"),
        status,
      );
      return;
    }
    const input = h("input", {
      id: "api-key",
      name: "api_key",
      type: "password",
      autocomplete: "off",
      spellcheck: "false",
      required: true,
      "aria-describedby": "api-key-hint",
    });
    const form = h(
      "form",
      {
        id: "login-form",
        onsubmit: async (e) => {
          e.preventDefault();
          const key = input.value.trim();
          if (!key) return;
          const btn = form.querySelector("button");
          btn.disabled = true;
          try {
            await api.login(key);
            input.value = "";
          } catch (err) {
            btn.disabled = false;
            this.renderAccount(`Login failed: ${describe(err)}`, true);
            this.el.account.querySelector("#api-key")?.focus();
          }
        },
      },
      h("label", { for: "api-key" }, "API key"),
      h("div", { class: "row" }, input, h("button", { type: "submit" }, "Log in")),
      h("p", { id: "api-key-hint", class: "hint" }, "Exchanged at /auth/token for a session token; the key itself is not stored."),
    );
    setChildren(this.el.account, form, status);
  }

  async logout() {
    try {
      await this.api.logout();
      this.renderAccount("Logged out.");
    } catch (err) {
      this.renderAccount(`Logged out here; the server said: ${describe(err)}`, true);
    }
  }

  onLogin() {
    const api = this.api;
    if (api.loggedIn) this.renderAccount(`Logged in as ${api.role}.`);
    else if (!this.el.account.querySelector("#login-form")) this.renderAccount();
    this.panel.dataset.role = api.role || "none";
    this.el.admin.hidden = !roleAllows(api.role, "admin");
    if (!api.loggedIn) {
      setChildren(this.el.scene, h("p", { class: "empty" }, "Log in to see the scene."));
      setChildren(this.el.history, h("p", { class: "empty" }, "Log in to see the scene history."));
      setChildren(this.el.adminBody);
      return;
    }
    this.scenes = null;
    this.refreshScene();
    if (roleAllows(api.role, "admin")) this.refreshAdmin();
  }

  // ---- plots ----

  buildPlots() {
    let col = 1;
    for (const p of PLOTS) {
      const latest = h("span", { class: "latest" });
      const area = h("div", { class: "plot-area" });
      const fig = h("figure", { class: "plot", id: `plot-${p.id}`, dataset: { points: "0", last: "0" } }, h("figcaption", {}, p.title, " ", latest), area);
      this.el.plots.append(fig);
      const cols = p.series.map(() => col++);
      const opts = {
        width: 320,
        height: 110,
        legend: { show: false },
        cursor: { show: false },
        scales: { x: { time: true } },
        axes: [
          { stroke: "#9aa4b8", grid: { stroke: "#263046", width: 1 }, ticks: { stroke: "#263046" }, size: 28, font: "11px system-ui, sans-serif" },
          { stroke: "#9aa4b8", grid: { stroke: "#263046", width: 1 }, ticks: { stroke: "#263046" }, size: 44, font: "11px system-ui, sans-serif" },
        ],
        series: [{}].concat(p.series.map(([label, , color]) => ({ label, stroke: color, width: 1.5, spanGaps: false, points: { show: false } }))),
      };
      const plot = new uPlot(opts, [[], ...p.series.map(() => [])], area);
      this.plots.push({ def: p, fig, area, latest, plot, cols, width: 0 });
    }
  }

  onPerf(d) {
    const t = num(d.timestamp) ?? Date.now() / 1000;
    const x = this.data[0];
    if (x.length && t <= x[x.length - 1]) return;
    x.push(t);
    const client = this.clientFps();
    let c = 1;
    for (const p of PLOTS) {
      for (const [, get] of p.series) this.data[c++].push(num(get(d, client)));
    }
    if (x.length > WINDOW_POINTS) for (const arr of this.data) arr.splice(0, arr.length - WINDOW_POINTS);
    this.dirty = true;
  }

  drawPlots() {
    if (!this.dirty || !this.visible()) return;
    this.dirty = false;
    const x = this.data[0];
    for (const p of this.plots) {
      const w = Math.floor(p.area.clientWidth);
      if (w > 0 && w !== p.width) {
        p.width = w;
        p.plot.setSize({ width: w, height: 110 });
      }
      p.plot.setData([x, ...p.cols.map((c) => this.data[c])]);
      p.fig.dataset.points = String(x.length);
      p.fig.dataset.last = String(x[x.length - 1] ?? 0);
      const parts = p.def.series.map(([label], i) => {
        const arr = this.data[p.cols[i]];
        return `${label} ${fmtNum(arr[arr.length - 1], 1)}`;
      });
      p.latest.textContent = `(${parts.join(" · ")})`;
    }
  }

  // ---- scene and history ----

  async refreshScene() {
    const api = this.api;
    const dev = roleAllows(api.role, "developer");
    try {
      const [scene, history, scenes] = await Promise.all([
        api.get("/scene"),
        api.get("/scene/history?limit=50"),
        dev && !this.scenes ? api.get("/scenes") : Promise.resolve(this.scenes),
      ]);
      if (!api.loggedIn) return;
      this.scenes = scenes || null;
      this.renderScene(scene, dev);
      this.renderHistory(history || []);
    } catch (err) {
      setChildren(this.el.scene, h("p", { class: "msg error", role: "alert" }, `Could not read the scene: ${describe(err)}`));
    }
  }

  renderScene(scene, dev) {
    const cur = h(
      "dl",
      { class: "kv" },
      h("dt", {}, "Scene"),
      h("dd", { id: "current-scene" }, scene.scene_path || "none"),
      h("dt", {}, "Status"),
      h("dd", {}, scene.status || ""),
      h("dt", {}, "Loaded"),
      h("dd", {}, fmtTime(scene.loaded_at) || "–"),
    );
    if (!dev) {
      setChildren(this.el.scene, cur, h("p", { class: "hint" }, "Loading scenes needs the developer role."));
      return;
    }
    const allowed = ((this.scenes && this.scenes.scenes) || []).filter((s) => s.allowed);
    const select = h(
      "select",
      { id: "scene-select", name: "scene" },
      allowed.map((s) => h("option", { value: s.scene_path, selected: s.scene_path === scene.scene_path }, s.scene_path)),
    );
    const path = h("input", { id: "scene-path", name: "scene_path", type: "text", placeholder: "res://…", autocomplete: "off", spellcheck: "false", "aria-describedby": "scene-path-hint" });
    const result = h("p", { id: "scene-result", class: "msg", role: "status", "aria-live": "polite" });
    const form = h(
      "form",
      {
        id: "scene-form",
        onsubmit: (e) => {
          e.preventDefault();
          const p = path.value.trim() || select.value;
          if (p) this.load(p, form, result);
        },
      },
      h("label", { for: "scene-select" }, `Whitelisted scenes (${this.scenes ? this.scenes.environment : "?"})`),
      select,
      h("label", { for: "scene-path" }, "Or a scene path"),
      path,
      h("p", { id: "scene-path-hint", class: "hint" }, "A path here wins over the list; the server checks it against the whitelist."),
      h(
        "div",
        { class: "row" },
        h("button", { type: "submit", id: "scene-load" }, "Load scene"),
        h("button", { type: "button", id: "scene-reload", onclick: () => this.reload(form, result) }, "Reload current"),
      ),
    );
    // Keep a message across the re-render that follows a load.
    if (this.sceneMessage) {
      result.textContent = this.sceneMessage.text;
      result.className = this.sceneMessage.error ? "msg error" : "msg ok";
    }
    setChildren(this.el.scene, cur, form, result);
  }

  async load(p, form, result) {
    await this.sceneAction(form, result, `Loading ${p}…`, () => this.api.post("/scene/load", { scene_path: p }));
  }

  async reload(form, result) {
    await this.sceneAction(form, result, "Reloading…", () => this.api.post("/scene/reload", {}));
  }

  async sceneAction(form, result, pending, fn) {
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => (b.disabled = true));
    result.className = "msg";
    result.textContent = pending;
    try {
      const r = await fn();
      this.sceneMessage = { text: `Loaded ${r.scene_path} in ${fmtNum(r.load_time_ms, 1)} ms.`, error: false };
    } catch (err) {
      this.sceneMessage = { text: `Scene load refused: ${describe(err)}`, error: true };
    }
    buttons.forEach((b) => (b.disabled = false));
    result.className = this.sceneMessage.error ? "msg error" : "msg ok";
    result.textContent = this.sceneMessage.text;
    await this.refreshScene();
  }

  renderHistory(entries) {
    const rows = entries.slice().reverse();
    setChildren(
      this.el.history,
      table(
        "Scene load history, newest first",
        [
          { label: "When", value: (r) => fmtTime(r.loaded_at) },
          { label: "Scene", value: (r) => r.scene_path },
          { label: "Result", value: (r) => h("span", { class: r.status === "loaded" ? "ok" : "error" }, r.status) },
          { label: "Load time (ms)", value: (r) => fmtNum(r.load_time_ms, 1) },
          { label: "Error", value: (r) => (r.error ? `${r.error_code ? r.error_code + ": " : ""}${r.error}` : "") },
        ],
        rows,
        "No scene loads yet.",
      ),
    );
    this.el.history.dataset.count = String(entries.length);
  }

  onEvent(ev) {
    const kind = ev.kind || "event";
    const d = ev.detail || {};
    const text = kind === "scene_loaded"
      ? `Scene loaded: ${d.scene_path || ""} (${fmtNum(d.load_time_ms, 1)} ms)`
      : kind === "scene_failed"
        ? `Scene failed: ${d.scene_path || ""} ${d.error || ""}`
        : `${kind}${Object.keys(d).length ? ": " + JSON.stringify(d).slice(0, 160) : ""}`;
    const ts = typeof ev.timestamp === "number" ? new Date(ev.timestamp * 1000).toLocaleTimeString(undefined, { hour12: false }) : "";
    this.el.events.prepend(h("li", {}, h("time", {}, ts), " ", text));
    while (this.el.events.children.length > 20) this.el.events.lastChild.remove();
    if ((kind === "scene_loaded" || kind === "scene_failed") && this.api.loggedIn) this.refreshScene();
  }

  // ---- admin ----

  async refreshAdmin() {
    const api = this.api;
    const msg = h("p", { id: "admin-result", class: "msg", role: "status", "aria-live": "polite" }, this.adminMessage || "");
    try {
      const [sessions, bans, audit] = await Promise.all([api.get("/admin/sessions"), api.get("/admin/bans"), api.get("/admin/audit?limit=50")]);
      if (!roleAllows(api.role, "admin")) return;
      const act = (label, fn) => h("button", { type: "button", class: "small", onclick: fn }, label);
      setChildren(
        this.el.adminBody,
        h("div", { class: "row" }, h("button", { type: "button", id: "admin-refresh", onclick: () => this.refreshAdmin() }, "Refresh")),
        msg,
        h("h3", {}, "Sessions"),
        table(
          "Live sessions",
          [
            { label: "Principal", value: (s) => `${s.name || s.principal}` },
            { label: "Role", value: (s) => s.role },
            { label: "Created", value: (s) => fmtTime(s.created) },
            { label: "Last seen", value: (s) => fmtTime(s.last_seen) },
            { label: "", value: (s) => act(`End session ${s.name || s.principal}`, () => this.adminAction(`Ended session ${s.id}.`, () => api.del(`/admin/sessions/${encodeURIComponent(s.id)}`))) },
          ],
          (sessions && sessions.sessions) || [],
          "No live sessions.",
        ),
        h("h3", {}, "Bans"),
        table(
          "Bans in force",
          [
            { label: "Client", value: (b) => b.client },
            { label: "Reason", value: (b) => b.reason },
            { label: "Since", value: (b) => fmtTime(b.since) },
            { label: "Until", value: (b) => fmtTime(b.until) },
            { label: "Violations", value: (b) => String(b.violations) },
            { label: "", value: (b) => act(`Lift ban of ${b.client}`, () => this.adminAction(`Lifted the ban of ${b.client}.`, () => api.del(`/admin/bans/${encodeURIComponent(b.client)}`))) },
          ],
          (bans && bans.bans) || [],
          "No bans in force.",
        ),
        h("h3", {}, "Audit log (latest 50)"),
        table(
          "Audit log, newest first",
          [
            { label: "Time", value: (r) => fmtTime(r.time) },
            { label: "Principal", value: (r) => `${r.principal}${r.role ? ` (${r.role})` : ""}` },
            { label: "Request", value: (r) => `${r.method} ${r.path || r.route || ""}` },
            { label: "Status", value: (r) => String(r.status) },
            { label: "ms", value: (r) => fmtNum(r.duration_ms, 1) },
            { label: "Reason", value: (r) => r.reason || r.scene_path || "" },
          ],
          (audit && audit.records) || [],
          "No audit records.",
        ),
      );
    } catch (err) {
      setChildren(this.el.adminBody, h("p", { class: "msg error", role: "alert" }, `Could not read the admin data: ${describe(err)}`));
    }
  }

  async adminAction(done, fn) {
    try {
      await fn();
      this.adminMessage = done;
    } catch (err) {
      this.adminMessage = `Refused: ${describe(err)}`;
    }
    await this.refreshAdmin();
    this.adminMessage = "";
  }
}
