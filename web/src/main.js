// SpaceTime's web client: the live 3D/VR view of the scene and the
// server dashboard, served by the spacetime binary from the same origin.

import "./style.css";
import { Api, roleAllows } from "./api.js";
import { DesktopControls, InputSender } from "./controls.js";
import { Dashboard } from "./dashboard.js";
import { h, setChildren, fmtNum } from "./dom.js";
import { settingsForm } from "./settings.js";
import { Telemetry } from "./telemetry.js";
import { Viewer } from "./viewer.js";
import { VRSupport } from "./xr.js";

function fmtDistance(m) {
  if (!Number.isFinite(m)) return "–";
  const a = Math.abs(m);
  if (a >= 0.1 * 1.495978707e11) return `${(m / 1.495978707e11).toFixed(3)} au`;
  if (a >= 1e4) return `${(m / 1000).toLocaleString(undefined, { maximumFractionDigits: 0 })} km`;
  return `${m.toFixed(0)} m`;
}

function fmtDuration(s) {
  if (!Number.isFinite(s)) return "–";
  const sign = s < 0 ? "-" : "";
  s = Math.abs(s);
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  return `${sign}${hh}:${String(mm).padStart(2, "0")}:${ss.toFixed(1).padStart(4, "0")}`;
}

async function start() {
  const api = new Api(new URL(".", document.baseURI).href);
  const telemetry = new Telemetry(api, {
    topics: { perf: 10, player: 30, bodies: 5, vr: 2, events: undefined },
    decimate: 1,
  });

  const stage = document.getElementById("stage");
  const viewer = new Viewer(stage, telemetry);
  const sender = new InputSender(telemetry);
  const desktop = new DesktopControls(viewer.renderer.domElement);
  const vr = new VRSupport(viewer, telemetry, sender, document.getElementById("vr-host"));

  // Desktop piloting: every frame outside a VR session.
  viewer.frameHooks.push((now) => {
    if (!viewer.renderer.xr.isPresenting) sender.update(desktop.read(), now);
  });

  // Connection status, in words (the status element is a polite live region).
  const statusEl = document.getElementById("conn-status");
  const statusText = document.getElementById("conn-text");
  telemetry.addEventListener("status", (e) => {
    statusEl.dataset.state = e.detail.state;
    statusText.textContent = e.detail.text;
  });

  // Who may pilot: the stream's role (developer, admin, or anonymous in development).
  const pilotNote = document.getElementById("pilot-note");
  let anonymous = false;
  telemetry.addEventListener("hello", (e) => {
    anonymous = e.detail.method === "anonymous";
    const may = anonymous || roleAllows(e.detail.role, "developer");
    if (may) sender.allow();
    else sender.disallow();
    desktop.enabled = may;
    pilotNote.textContent = may ? "" : `Piloting needs the developer role (this stream: ${e.detail.role}).`;
    document.body.dataset.pilot = may ? "yes" : "no";
  });
  telemetry.addEventListener("proto-error", (e) => {
    const m = e.detail;
    if (m.code === "forbidden" && (m.id === "input" || /pilot/i.test(m.message || ""))) {
      sender.disallow();
      desktop.enabled = false;
      pilotNote.textContent = `Piloting refused: ${m.message || "forbidden"}`;
      document.body.dataset.pilot = "no";
    }
  });

  // Panel: open by default on wide screens.
  const panel = document.getElementById("panel");
  const toggle = document.getElementById("panel-toggle");
  const setPanel = (open) => {
    panel.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    toggle.textContent = open ? "Hide dashboard" : "Dashboard";
    viewer.onResize();
  };
  setPanel(window.matchMedia("(min-width: 821px)").matches);
  toggle.addEventListener("click", () => {
    setPanel(panel.hidden);
    if (!panel.hidden) panel.focus();
  });
  // On a narrow screen the open panel covers the view: do not render it then.
  const narrow = window.matchMedia("(max-width: 820px)");
  const syncVisible = () => {
    viewer.visible = !(narrow.matches && !panel.hidden) && document.visibilityState !== "hidden";
  };
  new MutationObserver(syncVisible).observe(panel, { attributes: true, attributeFilter: ["hidden"] });
  narrow.addEventListener("change", syncVisible);
  document.addEventListener("visibilitychange", syncVisible);
  syncVisible();

  const dashboard = new Dashboard(panel, api, telemetry, () => viewer.stats.fps);

  settingsForm(document.getElementById("settings-body"), (s) => {
    viewer.applySettings(s);
    vr.applySettings(s);
    if (s.beltDetail !== telemetry.decimate) telemetry.setDecimate(s.beltDetail);
  });

  // HUD, four times a second.
  const hudValues = document.getElementById("hud-values");
  const sceneName = document.getElementById("scene-name");
  viewer.addEventListener("scene", (e) => {
    sceneName.textContent = e.detail.sceneName ? `${e.detail.sceneName} (${e.detail.scene})` : e.detail.scene;
  });
  // What the server knows about headsets (every client's reports).
  let headsetText = "–";
  telemetry.addEventListener("vr", (e) => {
    const v = e.detail;
    headsetText = v.headset_connected ? `${v.headset_type || "connected"} (${v.runtime || "WebXR"})` : `none (${v.fallback_mode || "desktop"} mode)`;
  });
  setInterval(() => {
    const s = viewer.hud();
    if (!s) {
      setChildren(hudValues, h("dt", {}, "Ship"), h("dd", {}, viewer.stats.hasData ? "none in this scene" : "waiting for data"));
      return;
    }
    const t = s.input && s.input.throttle;
    const thrust = t ? Math.hypot(t.x, t.y, t.z) : 0;
    setChildren(
      hudValues,
      s.near && s.near.speed !== null ? [h("dt", {}, `Speed (${s.near.name})`), h("dd", {}, `${fmtNum(s.near.speed / 1000, 3)} km/s`)] : null,
      h("dt", {}, "Speed (system)"), h("dd", {}, `${fmtNum(s.speed / 1000, 3)} km/s`),
      h("dt", {}, "Status"), h("dd", {}, s.body ? `${s.status} (${s.body})` : s.status),
      s.near ? [h("dt", {}, `Altitude (${s.near.name})`), h("dd", {}, fmtDistance(s.near.altitude))] : null,
      h("dt", {}, "Proper time"), h("dd", {}, fmtDuration(s.properTime)),
      h("dt", {}, "Lorentz factor"), h("dd", {}, Number.isFinite(s.lorentz) ? s.lorentz.toFixed(10) : "–"),
      h("dt", {}, "Thrust"), h("dd", {}, `${Math.round(thrust * 100)} %`),
      h("dt", {}, "Render"), h("dd", {}, `${fmtNum(viewer.stats.fps, 0)} fps × ${viewer.stats.renderScale}`),
      h("dt", {}, "Headset"), h("dd", {}, headsetText),
    );
  }, 250);

  // Log-in changes reconnect the stream with the new credential.
  api.addEventListener("change", () => telemetry.restart());

  // Read-only hooks for tests and the curious (no control surface).
  Object.defineProperty(window, "spacetime", {
    value: Object.freeze({
      get stats() {
        return { ...viewer.stats, telemetry: telemetry.state, role: telemetry.role, authMethod: telemetry.method, inputsSent: sender.sent, vrReports: vr.reportsSent, headset: vr.headset, loggedIn: api.loggedIn, apiRole: api.role };
      },
    }),
  });

  await api.restore();
  telemetry.start();
  void dashboard;
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
