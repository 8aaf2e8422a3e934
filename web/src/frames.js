// Telemetry frame decoding, the server clock estimate and the sample
// buffers the viewer interpolates between. No DOM, no three.js: the unit
// tests run this module under node.

/** Magic and version of a binary bodies frame (docs/telemetry.md). */
const MAGIC = [0x53, 0x54, 0x42, 0x31]; // "STB1"
const HEADER = 48;

/**
 * Decodes a binary bodies frame. Returns null when the buffer is not a
 * version 1 STB1 frame or its length does not match its counts.
 * @param {ArrayBuffer} buf
 */
export function decodeBodiesFrame(buf) {
  if (!(buf instanceof ArrayBuffer) || buf.byteLength < HEADER) return null;
  const v = new DataView(buf);
  for (let i = 0; i < 4; i++) if (v.getUint8(i) !== MAGIC[i]) return null;
  if (v.getUint16(4, true) !== 1) return null;
  const flags = v.getUint16(6, true);
  const nb = v.getUint32(24, true);
  const np = v.getUint32(28, true);
  if (buf.byteLength !== HEADER + 12 * (nb + np)) return null;
  // Copies, not views: the samples outlive the message and Float32Array
  // needs 4-byte alignment (48 is aligned, 48+12B is too).
  return {
    tick: Number(v.getBigUint64(8, true)),
    simTime: v.getFloat64(16, true),
    particlesIncluded: (flags & 1) === 1,
    bodyCount: nb,
    particleCount: np,
    decimate: v.getUint32(32, true),
    worldParticles: v.getUint32(36, true),
    particleTick: Number(v.getBigUint64(40, true)),
    bodies: new Float32Array(buf.slice(HEADER, HEADER + 12 * nb)),
    particles: np > 0 ? new Float32Array(buf.slice(HEADER + 12 * nb, HEADER + 12 * (nb + np))) : null,
  };
}

/**
 * Estimates the server's tick at the local clock from the ticks frames
 * carry. The offset follows the earliest arrivals (least delay): it jumps
 * up quickly and decays down slowly, so jitter does not shake the view.
 */
export class TickClock {
  constructor(rate = 90) {
    this.rate = rate;
    this.offset = null; // server seconds − local seconds
  }

  /** Forgets the estimate (a new connection, a new scene). */
  reset(rate = this.rate) {
    this.rate = rate;
    this.offset = null;
  }

  /**
   * Notes a frame of tick `tick` that arrived at local time `nowMs`.
   * @param {number} tick
   * @param {number} nowMs
   */
  observe(tick, nowMs) {
    const s = tick / this.rate - nowMs / 1000;
    if (this.offset === null || Math.abs(s - this.offset) > 2) this.offset = s;
    else if (s > this.offset) this.offset += (s - this.offset) * 0.5;
    else this.offset += (s - this.offset) * 0.01;
  }

  /** The estimated current server tick (fractional), or null before any frame. */
  tickAt(nowMs) {
    if (this.offset === null) return null;
    return (nowMs / 1000 + this.offset) * this.rate;
  }
}

/**
 * A short, tick-ordered buffer of samples ({tick, ...}) with the pair to
 * interpolate between at a given tick.
 */
export class SampleBuffer {
  constructor(capacity = 8) {
    this.capacity = capacity;
    this.items = [];
  }

  clear() {
    this.items.length = 0;
  }

  /** Adds a sample; an older or repeated tick replaces nothing and is dropped. */
  push(sample) {
    const last = this.items[this.items.length - 1];
    if (last && sample.tick <= last.tick) {
      if (sample.tick === last.tick) this.items[this.items.length - 1] = sample;
      return;
    }
    this.items.push(sample);
    if (this.items.length > this.capacity) this.items.shift();
  }

  get latest() {
    return this.items[this.items.length - 1] || null;
  }

  /**
   * The samples around tick t and the fraction between them. Before the
   * first sample it holds the first; after the last it extrapolates at most
   * `maxAhead` ticks (then holds), so a stalled stream freezes the view
   * rather than letting it run away.
   * @returns {{a: object, b: object, f: number} | null}
   */
  bracket(t, maxAhead = 0) {
    const n = this.items.length;
    if (n === 0) return null;
    if (n === 1 || t <= this.items[0].tick) return { a: this.items[0], b: this.items[0], f: 0 };
    for (let i = n - 1; i > 0; i--) {
      const a = this.items[i - 1];
      const b = this.items[i];
      if (t >= a.tick) {
        const span = b.tick - a.tick;
        let f = span > 0 ? (t - a.tick) / span : 0;
        const limit = span > 0 ? 1 + maxAhead / span : 1;
        if (f > limit) f = limit;
        return { a, b, f };
      }
    }
    return { a: this.items[0], b: this.items[0], f: 0 };
  }
}

/** Linear interpolation of two equal-length numeric arrays into out. */
export function lerpArray(out, a, b, f) {
  for (let i = 0; i < out.length; i++) out[i] = a[i] + (b[i] - a[i]) * f;
  return out;
}

/** Normalised linear interpolation of quaternions {w,x,y,z}, shortest arc. */
export function nlerpQuat(a, b, f) {
  let bw = b.w, bx = b.x, by = b.y, bz = b.z;
  if (a.w * bw + a.x * bx + a.y * by + a.z * bz < 0) {
    bw = -bw; bx = -bx; by = -by; bz = -bz;
  }
  const w = a.w + (bw - a.w) * f;
  const x = a.x + (bx - a.x) * f;
  const y = a.y + (by - a.y) * f;
  const z = a.z + (bz - a.z) * f;
  const n = Math.hypot(w, x, y, z) || 1;
  return { w: w / n, x: x / n, y: y / n, z: z / n };
}

/**
 * Exponential reconnect backoff: 1 s doubling to 30 s, with up to 20 %
 * jitter so a restarted server is not hit by every browser at once.
 */
export function backoffDelay(attempt, random = Math.random) {
  const base = Math.min(30000, 1000 * 2 ** Math.max(0, attempt));
  return Math.round(base * (0.8 + 0.2 * random()));
}
