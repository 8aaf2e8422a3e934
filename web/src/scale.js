// The readable scale modes, the body hierarchy and Keplerian orbits. World
// positions are SI metres in the scene's axes (ecliptic, z north); display
// positions are metres in the same axes, relative to the display focus
// (the viewer turns them into three.js axes with one rotation). No DOM.

export const AU = 1.495978707e11;

/** Scale modes: "log" (log distance about the ship) and "linear" (a system view with scaled radii). */
export const MODES = ["log", "linear"];

/** Log mode: K display metres per decade of distance beyond D0 metres. */
export const LOG_K = 3;
export const LOG_D0 = 1e5;
/** Linear mode: display metres per astronomical unit. */
export const LINEAR_PER_AU = 1;

/** The log mapping of a distance d (m) to display metres. */
export function logDistance(d) {
  return LOG_K * Math.log10(1 + d / LOG_D0);
}

/**
 * The smallest angular radius (rad) a body of radius R gets in log mode,
 * so distant planets stay visible; larger bodies get more.
 */
export function minAngularRadius(R) {
  return 0.004 * (1 + Math.max(0, Math.log10(Math.max(R, 1) / 1e6)));
}

/** Display radius in log mode of a body of radius R whose centre is d from the focus. */
export function logRadius(d, R) {
  const fd = logDistance(d);
  const surface = fd - logDistance(Math.max(d - R, 0));
  return Math.max(surface, fd * minAngularRadius(R));
}

/** Display radius in linear mode: grows slowly with R so Earth and Jupiter both read. */
export function linearRadius(R) {
  const r = 0.02 * Math.pow(Math.max(R, 1) / 6.371e6, 0.45) * LINEAR_PER_AU;
  return Math.min(0.25 * LINEAR_PER_AU, Math.max(0.004 * LINEAR_PER_AU, r));
}

/** Maps a relative world vector (x, y, z) into out[o..o+2] with the log mapping. */
export function mapLogInto(out, o, x, y, z) {
  const d = Math.hypot(x, y, z);
  const s = d > 0 ? logDistance(d) / d : 0;
  out[o] = x * s;
  out[o + 1] = y * s;
  out[o + 2] = z * s;
}

/**
 * For each body, the index of the body it orbits, or -1 for the root (the
 * heaviest). A body orbits the most local heavier body whose sphere of
 * influence (|P − root|·(GM_P/GM_root)^0.4) contains it.
 * @param {number[]} gms
 * @param {ArrayLike<number>} pos  x,y,z per body
 */
export function computePrimaries(gms, pos) {
  const n = gms.length;
  const out = new Array(n).fill(-1);
  if (n === 0) return out;
  const { root, soi } = spheresOfInfluence(gms, pos);
  for (let i = 0; i < n; i++) {
    if (i === root) continue;
    out[i] = primaryOf(gms[i], pos[3 * i], pos[3 * i + 1], pos[3 * i + 2], gms, pos, soi, root, i);
  }
  return out;
}

/** The primary of a point of gravitational parameter gm (the ship: 0). */
export function primaryOf(gm, x, y, z, gms, pos, soi, root, self = -1) {
  let best = root;
  let bestSoi = Infinity;
  for (let j = 0; j < gms.length; j++) {
    if (j === self || j === root || !(gms[j] > gm)) continue;
    const d = Math.hypot(x - pos[3 * j], y - pos[3 * j + 1], z - pos[3 * j + 2]);
    if (d < soi[j] && soi[j] < bestSoi) {
      best = j;
      bestSoi = soi[j];
    }
  }
  return best;
}

/** Spheres of influence for primaryOf (Infinity for the root). */
export function spheresOfInfluence(gms, pos) {
  let root = 0;
  for (let i = 1; i < gms.length; i++) if (gms[i] > gms[root]) root = i;
  return {
    root,
    soi: gms.map((gm, i) => {
      if (i === root || !(gms[root] > 0)) return Infinity;
      const d = Math.hypot(pos[3 * i] - pos[3 * root], pos[3 * i + 1] - pos[3 * root + 1], pos[3 * i + 2] - pos[3 * root + 2]);
      return d * Math.pow(Math.max(gm, 0) / gms[root], 0.4);
    }),
  };
}

/**
 * Samples the osculating Kepler orbit of a body at relative position r and
 * velocity v (m, m/s) about a primary of gravitational parameter mu.
 * Returns n points (x,y,z relative to the primary) as a Float64Array, or
 * null when there is no orbit to draw (degenerate state). Ellipses close;
 * hyperbolas are drawn out to `maxR` metres.
 */
export function keplerOrbit(r, v, mu, n = 128, maxR = Infinity) {
  const [rx, ry, rz] = r;
  const [vx, vy, vz] = v;
  const rl = Math.hypot(rx, ry, rz);
  if (!(mu > 0) || !(rl > 0)) return null;
  const hx = ry * vz - rz * vy, hy = rz * vx - rx * vz, hz = rx * vy - ry * vx;
  const h = Math.hypot(hx, hy, hz);
  if (!(h > 0)) return null;
  // Eccentricity vector e = (v × h)/mu − r/|r|.
  const ex = (vy * hz - vz * hy) / mu - rx / rl;
  const ey = (vz * hx - vx * hz) / mu - ry / rl;
  const ez = (vx * hy - vy * hx) / mu - rz / rl;
  const e = Math.hypot(ex, ey, ez);
  const p = (h * h) / mu; // semi-latus rectum
  // P̂ towards periapsis (or the current position on a circle), Q̂ = ĥ × P̂.
  let px, py, pz;
  if (e > 1e-9) { px = ex / e; py = ey / e; pz = ez / e; } else { px = rx / rl; py = ry / rl; pz = rz / rl; }
  const nx = hx / h, ny = hy / h, nz = hz / h;
  const qx = ny * pz - nz * py, qy = nz * px - nx * pz, qz = nx * py - ny * px;
  let nu0 = -Math.PI, nu1 = Math.PI;
  if (e >= 1) {
    const lim = Math.acos(-1 / e) - 1e-3;
    nu1 = lim;
    if (Number.isFinite(maxR)) {
      // r(ν) = p/(1 + e cos ν) ≤ maxR  ⇔  cos ν ≥ (p/maxR − 1)/e
      const c = (p / maxR - 1) / e;
      if (c > -1 && c < 1) nu1 = Math.min(lim, Math.acos(c));
    }
    nu0 = -nu1;
  }
  const out = new Float64Array(3 * n);
  for (let i = 0; i < n; i++) {
    const nu = nu0 + ((nu1 - nu0) * i) / (n - 1);
    const rr = p / (1 + e * Math.cos(nu));
    const c = Math.cos(nu) * rr, s = Math.sin(nu) * rr;
    out[3 * i] = c * px + s * qx;
    out[3 * i + 1] = c * py + s * qy;
    out[3 * i + 2] = c * pz + s * qz;
  }
  return out;
}

/**
 * Lays out bodies and the ship for display. Inputs are world positions;
 * the result is display positions relative to the focus, display radii,
 * and push factors (display distance / scaled true distance to the
 * primary, ≥ 1 in linear mode, where scaled radii would otherwise swallow
 * satellites).
 * @param {"log"|"linear"} mode
 * @param {{gms:number[], radii:number[], pos:ArrayLike<number>, primaries:number[]}} w
 * @param {{x:number,y:number,z:number} | null} ship
 * @param {number} shipPrimary  index of the body the ship orbits
 */
export function layout(mode, w, ship, shipPrimary = -1) {
  const n = w.gms.length;
  const disp = new Float64Array(3 * n);
  const radius = new Float64Array(n);
  const push = new Float64Array(n).fill(1);
  let root = 0;
  for (let i = 1; i < n; i++) if (w.gms[i] > w.gms[root]) root = i;
  const focus = [0, 0, 0];
  const shipDisp = [0, 0, 0];
  let shipPush = 1;
  if (n === 0 && !ship) return { disp, radius, push, focus, shipDisp, shipPush, root: -1 };

  if (mode === "log") {
    if (ship) {
      focus[0] = ship.x; focus[1] = ship.y; focus[2] = ship.z;
    } else if (n > 0) {
      // No ship: look from beside the root body, 20° above its equator
      // plane (the ecliptic stays level, a belt lies along the horizon).
      const R = Math.max(w.radii[root], 1);
      focus[0] = w.pos[3 * root] + 3 * R * Math.cos(0.35);
      focus[1] = w.pos[3 * root + 1];
      focus[2] = w.pos[3 * root + 2] + 3 * R * Math.sin(0.35);
    }
    for (let i = 0; i < n; i++) {
      const x = w.pos[3 * i] - focus[0], y = w.pos[3 * i + 1] - focus[1], z = w.pos[3 * i + 2] - focus[2];
      mapLogInto(disp, 3 * i, x, y, z);
      radius[i] = logRadius(Math.hypot(x, y, z), w.radii[i]);
    }
    return { disp, radius, push, focus, shipDisp, shipPush, root };
  }

  // Linear: the root at the focus, every other body placed from its
  // primary outwards so a scaled primary never swallows it.
  const s = LINEAR_PER_AU / AU;
  if (n > 0) {
    focus[0] = w.pos[3 * root]; focus[1] = w.pos[3 * root + 1]; focus[2] = w.pos[3 * root + 2];
  } else if (ship) {
    focus[0] = ship.x; focus[1] = ship.y; focus[2] = ship.z;
  }
  for (let i = 0; i < n; i++) radius[i] = linearRadius(w.radii[i]);
  const done = new Uint8Array(n);
  const place = (i, depth) => {
    if (done[i] || depth > n) return;
    const P = w.primaries[i];
    if (P < 0 || P === i) {
      for (let k = 0; k < 3; k++) disp[3 * i + k] = (w.pos[3 * i + k] - focus[k]) * s;
    } else {
      place(P, depth + 1);
      const rx = w.pos[3 * i] - w.pos[3 * P], ry = w.pos[3 * i + 1] - w.pos[3 * P + 1], rz = w.pos[3 * i + 2] - w.pos[3 * P + 2];
      const d = Math.hypot(rx, ry, rz) * s;
      const min = (radius[P] + radius[i]) * 1.6;
      const k = d > 0 && d < min ? min / d : 1;
      push[i] = k;
      disp[3 * i] = disp[3 * P] + rx * s * k;
      disp[3 * i + 1] = disp[3 * P + 1] + ry * s * k;
      disp[3 * i + 2] = disp[3 * P + 2] + rz * s * k;
    }
    done[i] = 1;
  };
  for (let i = 0; i < n; i++) place(i, 0);
  if (ship) {
    if (shipPrimary >= 0 && shipPrimary < n) {
      const P = shipPrimary;
      const rx = ship.x - w.pos[3 * P], ry = ship.y - w.pos[3 * P + 1], rz = ship.z - w.pos[3 * P + 2];
      const d = Math.hypot(rx, ry, rz) * s;
      const min = radius[P] * 1.5 + 0.01 * LINEAR_PER_AU;
      shipPush = d > 0 && d < min ? min / d : 1;
      shipDisp[0] = disp[3 * P] + rx * s * shipPush;
      shipDisp[1] = disp[3 * P + 1] + ry * s * shipPush;
      shipDisp[2] = disp[3 * P + 2] + rz * s * shipPush;
    } else {
      for (let k = 0; k < 3; k++) shipDisp[k] = ((k === 0 ? ship.x : k === 1 ? ship.y : ship.z) - focus[k]) * s;
    }
  }
  return { disp, radius, push, focus, shipDisp, shipPush, root };
}
