// The HTTP API from the browser: requests with the session's bearer token,
// RFC 9457 problem documents turned into errors that say what the API
// said, and the login session (/auth/token, /auth/refresh, /auth/logout).
// Paths are relative to the page, so the client also works under a prefix.

const ROLES = ["guest", "readonly", "developer", "admin"];

/** Whether role may do what needs role min (guest < readonly < developer < admin). */
export function roleAllows(role, min) {
  return ROLES.indexOf(role) >= ROLES.indexOf(min) && ROLES.indexOf(min) >= 0;
}

/** An API refusal: the status and the problem document's code and detail. */
export class ApiError extends Error {
  constructor(status, problem, path) {
    const title = problem.title || `HTTP ${status}`;
    const detail = problem.detail && problem.detail !== title ? problem.detail : "";
    super(`${status} ${title}${detail ? `: ${detail}` : ""}`);
    this.name = "ApiError";
    this.status = status;
    this.code = problem.code || "";
    this.detail = problem.detail || "";
    this.path = path;
  }
}

const STORAGE_KEY = "spacetime.session";

/**
 * The login session and every API request. Events (EventTarget): "change"
 * when the login changes (detail: {role, loggedIn}).
 */
export class Api extends EventTarget {
  constructor(base = "") {
    super();
    this.base = base;
    this.access = null;
    this.refreshToken = null;
    this.role = null;
    this.expiresAt = 0;
    this.refreshTimer = null;
    this.refreshing = null;
  }

  get loggedIn() {
    return this.access !== null;
  }

  url(path) {
    return this.base + path.replace(/^\//, "");
  }

  /**
   * Sends a request; JSON in and out. Throws ApiError for an HTTP error,
   * Error for a network failure. A 401 with a session refreshes once and
   * retries.
   */
  async request(method, path, body, { retry = true, auth = true } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (auth && this.access) headers.Authorization = `Bearer ${this.access}`;
    let resp;
    try {
      resp = await fetch(this.url(path), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch (err) {
      throw new Error(`${method} ${path}: the server did not answer (${err.message})`);
    }
    if (resp.status === 401 && auth && retry && this.refreshToken) {
      if (await this.refresh().then(() => true, () => false)) {
        return this.request(method, path, body, { retry: false, auth });
      }
    }
    if (resp.status === 204) return null;
    const text = await resp.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!resp.ok) {
      throw new ApiError(resp.status, data && typeof data === "object" ? data : { detail: text.slice(0, 200) }, path);
    }
    return data;
  }

  get(path) {
    return this.request("GET", path);
  }

  post(path, body = {}) {
    return this.request("POST", path, body);
  }

  del(path) {
    return this.request("DELETE", path);
  }

  /** Logs in with an API key. */
  async login(apiKey) {
    const g = await this.request("POST", "/auth/token", { api_key: apiKey }, { auth: false });
    this.accept(g);
    return g;
  }

  /** Exchanges the refresh token for new tokens (one at a time). */
  refresh() {
    if (!this.refreshToken) return Promise.reject(new Error("no refresh token"));
    if (!this.refreshing) {
      const token = this.refreshToken;
      this.refreshing = this.request("POST", "/auth/refresh", { refresh_token: token }, { auth: false, retry: false })
        .then((g) => {
          this.accept(g);
          return g;
        })
        .catch((err) => {
          // A refused refresh token ends the login; a network error keeps it for a retry.
          if (err instanceof ApiError && err.status >= 400 && err.status < 500) this.clear();
          else this.schedule(15);
          throw err;
        })
        .finally(() => {
          this.refreshing = null;
        });
    }
    return this.refreshing;
  }

  /** Ends the session on the server and forgets it here. */
  async logout() {
    try {
      if (this.access) await this.request("POST", "/auth/logout", undefined, { retry: false });
      else if (this.refreshToken) await this.request("POST", "/auth/logout", { refresh_token: this.refreshToken }, { auth: false, retry: false });
    } finally {
      this.clear();
    }
  }

  /** Restores a login kept for this tab (a page reload): refresh it now. */
  async restore() {
    let saved = null;
    try {
      saved = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null");
    } catch {
      saved = null;
    }
    if (!saved || !saved.refresh_token) return false;
    this.refreshToken = saved.refresh_token;
    try {
      await this.refresh();
      return true;
    } catch {
      this.clear();
      return false;
    }
  }

  accept(g) {
    if (!g || typeof g.access_token !== "string") throw new Error("the token response has no access_token");
    this.access = g.access_token;
    this.refreshToken = g.refresh_token || null;
    this.role = g.role || "guest";
    const ttl = Number(g.expires_in) > 0 ? Number(g.expires_in) : 900;
    this.expiresAt = Date.now() + ttl * 1000;
    try {
      if (this.refreshToken) sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ refresh_token: this.refreshToken }));
      else sessionStorage.removeItem(STORAGE_KEY);
    } catch {
      /* storage may be off: the login then lasts as long as the page */
    }
    // Refresh at 80 % of the lifetime (at least 10 s before expiry).
    if (this.refreshToken) this.schedule(Math.max(5, Math.min(ttl * 0.8, ttl - 10)));
    this.dispatchEvent(new CustomEvent("change", { detail: { role: this.role, loggedIn: true } }));
  }

  schedule(seconds) {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.refresh().catch(() => {}), seconds * 1000);
  }

  clear() {
    const was = this.access !== null || this.refreshToken !== null;
    clearTimeout(this.refreshTimer);
    this.access = this.refreshToken = this.role = null;
    this.expiresAt = 0;
    try {
      sessionStorage.removeItem(STORAGE_KEY);
    } catch {
      /* ignore */
    }
    if (was) this.dispatchEvent(new CustomEvent("change", { detail: { role: null, loggedIn: false } }));
  }

  /** A single-use telemetry ticket for the WebSocket (needs a login). */
  async ticket() {
    const t = await this.post("/telemetry/ticket", {});
    if (!t || typeof t.ticket !== "string") throw new Error("the ticket response has no ticket");
    return t.ticket;
  }
}
