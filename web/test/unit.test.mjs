// Unit tests of the client's pure logic (no browser): node --test test/
import assert from "node:assert/strict";
import { test } from "node:test";
import { InputSender, addInput, deadzone, isZero, zeroInput } from "../src/controls.js";
import { SampleBuffer, TickClock, backoffDelay, decodeBodiesFrame, nlerpQuat } from "../src/frames.js";
import { UNKNOWN_HEADSET, headsetType } from "../src/headset.js";
import { RenderScaler, SCALE_STEPS } from "../src/rescale.js";
import { AU, computePrimaries, keplerOrbit, layout, linearRadius, logDistance, logRadius } from "../src/scale.js";
import { decodePNG } from "./e2e.mjs";

/** A bodies frame as docs/telemetry.md lays it out. */
function frame({ tick = 7, simTime = 12.5, bodies = [], particles = null, decimate = 1, world = 0, ptick = 7 }) {
  const nb = bodies.length / 3, np = particles ? particles.length / 3 : 0;
  const buf = new ArrayBuffer(48 + 12 * (nb + np));
  const v = new DataView(buf);
  [0x53, 0x54, 0x42, 0x31].forEach((b, i) => v.setUint8(i, b));
  v.setUint16(4, 1, true);
  v.setUint16(6, particles ? 1 : 0, true);
  v.setBigUint64(8, BigInt(tick), true);
  v.setFloat64(16, simTime, true);
  v.setUint32(24, nb, true);
  v.setUint32(28, np, true);
  v.setUint32(32, decimate, true);
  v.setUint32(36, world, true);
  v.setBigUint64(40, BigInt(ptick), true);
  new Float32Array(buf, 48, 3 * (nb + np)).set([...bodies, ...(particles || [])]);
  return buf;
}

test("decodeBodiesFrame reads the header, bodies and particles", () => {
  const f = decodeBodiesFrame(frame({ tick: 123456, simTime: 1371.7, bodies: [1, 2, 3, 4, 5, 6], particles: [7, 8, 9], decimate: 10, world: 10, ptick: 123450 }));
  assert.equal(f.tick, 123456);
  assert.equal(f.simTime, 1371.7);
  assert.equal(f.bodyCount, 2);
  assert.equal(f.particleCount, 1);
  assert.equal(f.decimate, 10);
  assert.equal(f.worldParticles, 10);
  assert.equal(f.particleTick, 123450);
  assert.equal(f.particlesIncluded, true);
  assert.deepEqual([...f.bodies], [1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...f.particles], [7, 8, 9]);
});

test("decodeBodiesFrame refuses what is not a version 1 frame", () => {
  const good = frame({ bodies: [1, 2, 3] });
  assert.ok(decodeBodiesFrame(good));
  const bad = good.slice(0);
  new DataView(bad).setUint8(0, 0x58);
  assert.equal(decodeBodiesFrame(bad), null, "magic");
  const v2 = good.slice(0);
  new DataView(v2).setUint16(4, 2, true);
  assert.equal(decodeBodiesFrame(v2), null, "version");
  assert.equal(decodeBodiesFrame(good.slice(0, good.byteLength - 4)), null, "length");
  assert.equal(decodeBodiesFrame(new ArrayBuffer(10)), null, "short");
  assert.equal(decodeBodiesFrame("STB1"), null, "not a buffer");
});

test("TickClock follows the earliest arrivals and ignores late ones", () => {
  const c = new TickClock(90);
  assert.equal(c.tickAt(0), null);
  c.observe(900, 1000); // tick 900 (10 s) arrived at local 1 s
  assert.ok(Math.abs(c.tickAt(1000) - 900) < 1e-9);
  c.observe(990, 2500); // arrived 500 ms late: barely moves the estimate
  assert.ok(Math.abs(c.tickAt(2000) - 990) < 1);
  c.observe(1080, 3000); // on time again
  assert.ok(Math.abs(c.tickAt(3000) - 1080) < 1);
});

test("SampleBuffer brackets, holds before the first and limits extrapolation", () => {
  const b = new SampleBuffer(3);
  assert.equal(b.bracket(5), null);
  b.push({ tick: 10 });
  b.push({ tick: 20 });
  b.push({ tick: 20, v: "replaced" });
  b.push({ tick: 15 }); // older: dropped
  assert.equal(b.items.length, 2);
  assert.equal(b.latest.v, "replaced");
  let r = b.bracket(12);
  assert.equal(r.a.tick, 10);
  assert.equal(r.b.tick, 20);
  assert.ok(Math.abs(r.f - 0.2) < 1e-12);
  assert.equal(b.bracket(0).f, 0);
  r = b.bracket(100, 5); // 80 ticks ahead, at most 5
  assert.ok(Math.abs(r.f - 1.5) < 1e-12);
  b.push({ tick: 30 });
  b.push({ tick: 40 });
  assert.deepEqual(b.items.map((x) => x.tick), [20, 30, 40]);
});

test("nlerpQuat takes the short way and stays normalised", () => {
  const a = { w: 1, x: 0, y: 0, z: 0 };
  const b = { w: -1, x: 0, y: 0, z: 0 }; // the same rotation
  const m = nlerpQuat(a, b, 0.5);
  assert.ok(Math.abs(m.w - 1) < 1e-12);
  const c = nlerpQuat(a, { w: Math.SQRT1_2, x: 0, y: Math.SQRT1_2, z: 0 }, 0.5);
  assert.ok(Math.abs(Math.hypot(c.w, c.x, c.y, c.z) - 1) < 1e-12);
});

test("backoffDelay doubles from 1 s to 30 s with jitter", () => {
  assert.equal(backoffDelay(0, () => 1), 1000);
  assert.equal(backoffDelay(1, () => 1), 2000);
  assert.equal(backoffDelay(3, () => 1), 8000);
  assert.equal(backoffDelay(10, () => 1), 30000);
  assert.equal(backoffDelay(0, () => 0), 800);
});

test("headsetType names the device from the user agent or the input profiles", () => {
  const quest3UA = "Mozilla/5.0 (X11; Linux x86_64; Quest 3) AppleWebKit/537.36 (KHTML, like Gecko) OculusBrowser/33.0.0.x.x.x Chrome/126.0.6478.122 VR Safari/537.36";
  assert.equal(headsetType(quest3UA, []), "Meta Quest 3");
  assert.equal(headsetType("Mozilla/5.0 (X11; Linux x86_64; Quest 3S)", []), "Meta Quest 3S");
  assert.equal(headsetType("Mozilla/5.0 Linux", [["meta-quest-touch-plus", "oculus-touch-v3", "generic-trigger-squeeze-thumbstick"]]), "Meta Quest 3");
  assert.equal(headsetType("", [[], ["valve-index", "generic-trigger"]]), "Valve Index");
  assert.equal(headsetType("", [["generic-trigger-squeeze-thumbstick"]]), UNKNOWN_HEADSET);
  assert.equal(headsetType(), UNKNOWN_HEADSET);
});

test("RenderScaler lowers after sustained slow frames and raises with headroom", () => {
  const s = new RenderScaler({ threshold: 0.9, lowerAfterMs: 2000, headroom: 0.97, raiseAfterMs: 5000 });
  let t = 0;
  const run = (fps, ms) => {
    let changed = 0;
    const end = t + ms;
    while (t < end) {
      t += 1000 / fps;
      if (s.frame(t, 72)) changed++;
    }
    return changed;
  };
  run(72, 3000);
  assert.equal(s.scale, 1, "no change at the target");
  run(60, 1500);
  assert.equal(s.scale, 1, "not yet: under 2 s slow");
  run(60, 1200);
  assert.equal(s.scale, SCALE_STEPS[1], "lowered after 2 s slow");
  run(60, 30000);
  assert.equal(s.scale, SCALE_STEPS[SCALE_STEPS.length - 1], "stops at the lowest step");
  run(72, 4000);
  assert.equal(s.scale, SCALE_STEPS[SCALE_STEPS.length - 1], "not raised before 5 s of headroom");
  run(72, 2000);
  assert.equal(s.scale, SCALE_STEPS[SCALE_STEPS.length - 2], "raised one step with headroom");
  s.enabled = false;
  run(30, 1000);
  assert.equal(s.scale, 1, "disabled: full scale");
});

test("log scale: monotonic distances, surfaces where they belong", () => {
  assert.equal(logDistance(0), 0);
  assert.ok(logDistance(1e6) < logDistance(1e9));
  // The ship 400 km above the Earth: the surface is 400 km away in display terms.
  const R = 6.371e6, d = R + 4e5;
  assert.ok(Math.abs(logDistance(d) - logRadius(d, R) - logDistance(4e5)) < 1e-9);
  // Far bodies keep a minimum angular size.
  assert.ok(logRadius(4.5e12, 2.46e7) / logDistance(4.5e12) >= 0.004);
  assert.ok(linearRadius(6.96e8) > linearRadius(6.371e6));
});

test("computePrimaries: planets orbit the Sun, the Moon the Earth", () => {
  const gms = [1.327e20, 3.986e14, 4.905e12, 1.267e17];
  const pos = [0, 0, 0, AU, 0, 0, AU + 3.84e8, 0, 0, 0, 5.2 * AU, 0];
  assert.deepEqual(computePrimaries(gms, pos), [-1, 0, 1, 0]);
});

test("keplerOrbit: a circular orbit has constant radius and closes", () => {
  const mu = 3.986e14, r = 6.771e6, v = Math.sqrt(mu / r);
  const pts = keplerOrbit([r, 0, 0], [0, v, 0], mu, 64);
  for (let i = 0; i < 64; i++) {
    assert.ok(Math.abs(Math.hypot(pts[3 * i], pts[3 * i + 1], pts[3 * i + 2]) - r) < 1);
  }
  assert.ok(Math.hypot(pts[0] - pts[189], pts[1] - pts[190], pts[2] - pts[191]) < 1);
  // Escape: a hyperbola drawn out to maxR, not closed.
  const h = keplerOrbit([r, 0, 0], [0, 2 * v, 0], mu, 32, 10 * r);
  assert.ok(Math.hypot(h[0], h[1], h[2]) <= 10 * r * 1.0001);
  assert.equal(keplerOrbit([0, 0, 0], [1, 0, 0], mu), null);
  assert.equal(keplerOrbit([r, 0, 0], [v, 0, 0], mu), null, "radial: no plane");
});

test("layout: log mode centres on the ship, linear keeps satellites out of scaled primaries", () => {
  const w = {
    gms: [1.327e20, 3.986e14, 4.905e12],
    radii: [6.957e8, 6.371e6, 1.737e6],
    pos: [0, 0, 0, AU, 0, 0, AU + 3.84e8, 0, 0],
    primaries: [-1, 0, 1],
  };
  const ship = { x: AU + 6.771e6, y: 0, z: 0 };
  const lg = layout("log", w, ship, 1);
  assert.deepEqual(lg.shipDisp, [0, 0, 0]);
  assert.ok(lg.disp[3] < 0 && Math.abs(lg.disp[3] + logDistance(6.771e6)) < 1e-9, "the Earth is towards −x");
  const ln = layout("linear", w, ship, 1);
  assert.deepEqual([ln.disp[0], ln.disp[1], ln.disp[2]], [0, 0, 0], "the Sun at the focus");
  const moonGap = Math.abs(ln.disp[6] - ln.disp[3]);
  assert.ok(moonGap >= (ln.radius[1] + ln.radius[2]) * 1.6 - 1e-12, "the Moon is outside the scaled Earth");
  assert.ok(ln.push[2] > 1);
  assert.ok(Math.abs(ln.shipDisp[0] - ln.disp[3]) >= ln.radius[1] * 1.5, "the ship is outside the scaled Earth");
});

test("controls: dead zone, clamping and the sender's cadence", () => {
  assert.equal(deadzone(0.1), 0);
  assert.equal(deadzone(1), 1);
  assert.equal(deadzone(-1), -1);
  const a = addInput(zeroInput(), { throttle: { x: 0.8, y: 0, z: -1 }, rotation: { x: 5, y: 0, z: 0 } });
  addInput(a, { throttle: { x: 0.8, y: 0, z: -1 }, rotation: { x: 0, y: 0, z: 0 } });
  assert.equal(a.throttle.x, 1);
  assert.equal(a.throttle.z, -1);
  assert.ok(a.rotation.x <= Math.PI);
  const sent = [];
  const fake = { sendTagged: (id, m) => sent.push(m) };
  const s = new InputSender(fake, 25);
  const held = { throttle: { x: 0, y: 0, z: -1 }, rotation: { x: 0, y: 0, z: 0 } };
  s.update(zeroInput(), 0);
  assert.equal(sent.length, 0, "nothing while idle");
  for (let t = 0; t <= 1000; t += 10) s.update(held, t);
  assert.ok(sent.length >= 25 && sent.length <= 27, `about 25 Hz while held, got ${sent.length}`);
  s.update(zeroInput(), 1010);
  s.update(zeroInput(), 1020);
  assert.ok(isZero(sent[sent.length - 1]), "one zero on release");
  assert.ok(!isZero(sent[sent.length - 2]));
  s.disallow();
  s.update(held, 2000);
  assert.ok(isZero(sent[sent.length - 1]), "nothing once disallowed");
});

test("decodePNG (the e2e screenshot reader) reads RGBA with every filter", async () => {
  // A 2×2 RGBA PNG built here: filters 1 (sub) and 4 (Paeth).
  const { deflateSync } = await import("node:zlib");
  const raw = Buffer.from([1, 10, 20, 30, 255, 5, 5, 5, 0, 4, 1, 2, 3, 0, 4, 4, 4, 0]);
  const chunk = (type, data) => {
    const b = Buffer.alloc(12 + data.length);
    b.writeUInt32BE(data.length, 0);
    b.write(type, 4, "latin1");
    data.copy(b, 8);
    return b; // the reader does not check CRCs
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(2, 0);
  ihdr.writeUInt32BE(2, 4);
  ihdr[8] = 8;
  ihdr[9] = 6;
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
  const img = decodePNG(png);
  assert.equal(img.width, 2);
  assert.deepEqual([...img.rgba.subarray(0, 8)], [10, 20, 30, 255, 15, 25, 35, 255]);
  // Row 2, Paeth: first pixel predicted from above (10,20,30,255).
  assert.deepEqual([...img.rgba.subarray(8, 12)], [11, 22, 33, 255]);
});
