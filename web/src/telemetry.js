// The telemetry stream (docs/telemetry.md) from the browser: same-origin
// WebSocket with the spacetime.v1 subprotocol, a ticket when logged in,
// anonymous otherwise (development). Reconnects by itself with backoff.
//
// Events (EventTarget):
//   "status"  detail {state, text, role?, retryMs?}  state: connecting | live | retrying | login | forbidden | stopped
//   "hello"   detail auth_success message
//   "perf" | "player" | "vr" | "bodies" | "events"  detail: the event's data (and .timestamp)
//   "frame"   detail: a decoded binary bodies frame
//   "snapshot" detail: the snapshot message
//   "proto-error" detail: an error message that did not close the connection

import { ApiError } from "./api.js";
import { backoffDelay, decodeBodiesFrame } from "./frames.js";

export const SUBPROTOCOL = "spacetime.v1";

/** Close codes after which retrying without a new credential is pointless. */
const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_FORBIDDEN = 4403;

export class Telemetry extends EventTarget {
  /**
   * @param {import('./api.js').Api} api
   * @param {{topics: Record<string, number|undefined>, decimate: number}} opts
   */
  constructor(api, opts) {
    super();
    this.api = api;
    this.topics = opts.topics;
    this.decimate = opts.decimate || 1;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.stopped = true;
    this.role = null;
    this.tickRate = 90;
    this.live = false;
    this.generation = 0;
    this.state = "stopped";
    this.sentIds = new Set();
  }

  /** Starts (or restarts at once) the connection. */
  start() {
    this.stopped = false;
    this.attempt = 0;
    this.restart();
  }

  /** Closes and stays closed. */
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.drop(1000, "client stopped");
    this.setStatus("stopped", "Telemetry stopped");
  }

  /** Reconnects now (a login or logout changed the credential). */
  restart() {
    clearTimeout(this.timer);
    this.drop(1000, "reconnecting");
    if (!this.stopped) this.connect();
  }

  drop(code, reason) {
    const ws = this.ws;
    this.ws = null;
    this.live = false;
    this.generation++;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close(code, reason);
      } catch {
        /* already closed */
      }
    }
  }

  setStatus(state, text, extra = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("status", { detail: { state, text, ...extra } }));
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  url(ticket) {
    const u = new URL("telemetry", document.baseURI);
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    if (ticket) u.searchParams.set("ticket", ticket);
    return u.href;
  }

  async connect() {
    const gen = ++this.generation;
    this.setStatus("connecting", this.attempt ? `Reconnecting (attempt ${this.attempt + 1})…` : "Connecting…");
    let ticket = null;
    if (this.api.loggedIn) {
      try {
        ticket = await this.api.ticket();
      } catch (err) {
        // A refused login ends it (Api clears it, "change" restarts us).
        if (gen !== this.generation || this.stopped) return;
        if (err instanceof ApiError && err.status === 403) {
          this.setStatus("forbidden", `Telemetry refused: ${err.message}`);
          return;
        }
        this.retry(`Could not get a telemetry ticket: ${err.message}.`);
        return;
      }
      if (gen !== this.generation || this.stopped) return;
    }
    let ws;
    try {
      ws = new WebSocket(this.url(ticket), SUBPROTOCOL);
    } catch (err) {
      this.retry(`Cannot open the telemetry stream: ${err.message}`);
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.authenticated = false;
    this.sentIds.clear();
    ws.onmessage = (e) => {
      if (typeof e.data === "string") this.onText(e.data);
      else this.onBinary(e.data);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.live = false;
      this.onClose(e);
    };
    ws.onerror = () => {
      /* onclose follows and says what to do */
    };
    if (!ticket) {
      // Without a credential the server admits us at once (development) or
      // waits for an auth message we do not have: then a login is needed.
      ws.onopen = () => {
        setTimeout(() => {
          if (this.ws !== ws || this.authenticated) return;
          this.drop(1000, "no credential");
          this.setStatus("login", "Log in to see the live scene (the telemetry stream needs a credential here).");
        }, 1500);
      };
    }
  }

  retry(text) {
    if (this.stopped) return;
    const delay = backoffDelay(this.attempt++);
    this.setStatus("retrying", `${text} Retrying in ${Math.round(delay / 1000)} s.`, { retryMs: delay });
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  onClose(e) {
    this.emit("closed", { code: e.code, reason: e.reason });
    if (this.stopped) return;
    if (e.code === CLOSE_UNAUTHORIZED || this.lastAuthError) {
      const why = this.lastAuthError || e.reason || "unauthorized";
      this.lastAuthError = null;
      if (!this.api.loggedIn) {
        this.setStatus("login", "Log in to see the live scene (the telemetry stream needs a credential here).");
        return;
      }
      this.retry(`Telemetry refused the credential (${why}).`);
      return;
    }
    if (e.code === CLOSE_FORBIDDEN) {
      this.setStatus("forbidden", `Telemetry refused: this role may not read it (${e.reason || "forbidden"}).`);
      return;
    }
    const what = {
      1001: "The server is shutting down.",
      1006: "Connection lost.",
      1008: "The server closed the stream (message flood).",
      1013: "The server has too many subscribers.",
      4008: "The stream was too slow for this connection.",
    }[e.code] || `Disconnected (code ${e.code}${e.reason ? `: ${e.reason}` : ""}).`;
    this.retry(what);
  }

  /** Sends a JSON message; false when not connected. */
  send(msg) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || !this.authenticated) return false;
    ws.send(JSON.stringify(msg));
    return true;
  }

  /** Sends a message with an id the first time a given id is used on this connection (errors then name it). */
  sendTagged(id, msg) {
    if (!this.sentIds.has(id)) {
      if (this.send({ ...msg, id })) this.sentIds.add(id);
      return;
    }
    this.send(msg);
  }

  subscribe() {
    const ws = this.ws;
    if (!ws) return;
    ws.send(JSON.stringify({ type: "configure", decimate: this.decimate, bodies_format: "binary", particles: true, id: "configure" }));
    const byRate = new Map();
    for (const [topic, rate] of Object.entries(this.topics)) {
      const key = rate === undefined ? "default" : String(rate);
      if (!byRate.has(key)) byRate.set(key, []);
      byRate.get(key).push(topic);
    }
    for (const [key, topics] of byRate) {
      const msg = { type: "subscribe", topics, id: `sub-${key}` };
      if (key !== "default") msg.rate_hz = Number(key);
      ws.send(JSON.stringify(msg));
    }
  }

  /** Changes the particle decimation of this and later connections. */
  setDecimate(n) {
    this.decimate = n;
    if (this.ws && this.authenticated) this.send({ type: "configure", decimate: n });
  }

  requestSnapshot(topics) {
    return this.send({ type: "get_snapshot", topics, id: "snapshot" });
  }

  onText(text) {
    let m;
    try {
      m = JSON.parse(text);
    } catch {
      return;
    }
    if (!m || typeof m !== "object") return;
    switch (m.type) {
      case "auth_success":
        this.authenticated = true;
        this.role = m.role || "guest";
        this.method = m.method || "";
        this.tickRate = Number(m.tick_rate) > 0 ? Number(m.tick_rate) : 90;
        this.attempt = 0;
        this.live = true;
        this.emit("hello", m);
        this.subscribe();
        this.setStatus("live", `Live (${this.role}${m.method === "anonymous" ? ", anonymous" : ""})`, { role: this.role });
        break;
      case "event":
        if (m.data && typeof m.data === "object") {
          m.data.timestamp = m.timestamp;
          this.emit(m.event, m.data);
        }
        break;
      case "snapshot":
        this.emit("snapshot", m);
        break;
      case "error":
        if (["not_authenticated", "auth_failed", "auth_timeout"].includes(m.code)) this.lastAuthError = m.message || m.code;
        this.emit("proto-error", m);
        break;
      default:
        break;
    }
  }

  onBinary(buf) {
    const f = decodeBodiesFrame(buf);
    if (f) this.emit("frame", f);
  }
}
