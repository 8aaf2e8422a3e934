// The live 3D view: the scene's bodies, the asteroid belt, the player's
// ship, labels and orbits, drawn with three.js from the telemetry stream
// and interpolated between server snapshots at the display's own rate.
//
// Frames: world positions are SI metres in the scene's axes (ecliptic,
// z north). scale.js maps them to display metres about a focus (the ship
// in log mode, the root body in linear mode). The `world` group turns
// display axes into three.js axes (y up) and puts the ship at the origin,
// where the desktop camera orbits and the VR rig stands behind it.

import {
  AdditiveBlending,
  AmbientLight,
  BufferAttribute,
  BufferGeometry,
  CanvasTexture,
  Color,
  ConeGeometry,
  CylinderGeometry,
  Group,
  Line,
  LineBasicMaterial,
  LineLoop,
  Mesh,
  MeshBasicMaterial,
  MeshStandardMaterial,
  PerspectiveCamera,
  PointLight,
  Points,
  PointsMaterial,
  Quaternion,
  Scene,
  ShaderMaterial,
  SphereGeometry,
  SRGBColorSpace,
  Sprite,
  SpriteMaterial,
  Vector3,
  WebGLRenderer,
} from "three";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";
import { SampleBuffer, TickClock, lerpArray, nlerpQuat } from "./frames.js";
import { RenderScaler } from "./rescale.js";
import {
  AU,
  LINEAR_PER_AU,
  LOG_D0,
  LOG_K,
  computePrimaries,
  keplerOrbit,
  layout,
  mapLogInto,
  primaryOf,
  spheresOfInfluence,
} from "./scale.js";

const BODY_COLORS = {
  sun: 0xffd89a,
  mercury: 0x8c8680,
  venus: 0xe6cc99,
  earth: 0x3f6fd0,
  moon: 0x9a9a9a,
  mars: 0xc0593a,
  jupiter: 0xcdb38c,
  saturn: 0xd9c79a,
  uranus: 0x99ccd9,
  neptune: 0x4d73d9,
  pluto: 0xb8a48c,
};

function bodyColor(name, i) {
  const c = BODY_COLORS[String(name).toLowerCase()];
  if (c !== undefined) return new Color(c);
  return new Color().setHSL(((i * 0.618) % 1 + 1) % 1, 0.45, 0.6);
}

// Display axes (z north) → three.js axes (y up): x→x, z→y, y→−z.
const AXES = new Quaternion().setFromAxisAngle(new Vector3(1, 0, 0), -Math.PI / 2);

/**
 * How far the view runs behind the newest data (s): one sample interval
 * and some jitter. The ship (30 Hz) and the bodies propagated from float64
 * snapshots use the short delay; the belt (5 Hz frames) the long one, and
 * so does everything when there is no recent snapshot.
 */
const FAST_DELAY_S = 0.08;
const SLOW_DELAY_S = 0.3;

const BELT_VERTEX = /* glsl */ `
uniform vec3 focus;
uniform float mode;
uniform float t;
uniform float logK;
uniform float logD0;
uniform float linScale;
uniform float size;
uniform float order;
attribute vec3 next;
void main() {
  // Two sample slots (position, next): order says which is the earlier,
  // so each new sample is one upload into the slot that is free.
  vec3 a = order < 0.5 ? position : next;
  vec3 b = order < 0.5 ? next : position;
  vec3 p = mix(a, b, t);
  vec3 r = p - focus;
  vec3 d;
  if (mode < 0.5) {
    float l = length(r);
    d = l > 0.0 ? r * (logK * log(1.0 + l / logD0) / (2.302585093 * l)) : vec3(0.0);
  } else {
    d = r * linScale;
  }
  vec4 mv = modelViewMatrix * vec4(d, 1.0);
  gl_Position = projectionMatrix * mv;
  gl_PointSize = size;
}`;

const BELT_FRAGMENT = /* glsl */ `
uniform vec3 color;
void main() {
  gl_FragColor = vec4(color, 0.9);
}`;

/** A text label as a sprite (canvas texture, system font: no web fonts). */
function makeLabel(text, color = "#e8eefc") {
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d");
  const font = "600 40px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
  ctx.font = font;
  const w = Math.ceil(ctx.measureText(text).width) + 24;
  canvas.width = w;
  canvas.height = 56;
  ctx.font = font;
  ctx.textBaseline = "middle";
  ctx.lineWidth = 6;
  ctx.strokeStyle = "rgba(0,0,0,0.85)";
  ctx.strokeText(text, 12, 30);
  ctx.fillStyle = color;
  ctx.fillText(text, 12, 30);
  const tex = new CanvasTexture(canvas);
  tex.colorSpace = SRGBColorSpace;
  const mat = new SpriteMaterial({ map: tex, depthTest: false, depthWrite: false, transparent: true });
  const sprite = new Sprite(mat);
  sprite.center.set(0.5, 0);
  sprite.renderOrder = 20;
  sprite.userData.aspect = w / 56;
  return sprite;
}

function disposeObject(o) {
  o.traverse((c) => {
    if (c.geometry && !c.userData.sharedGeometry) c.geometry.dispose();
    if (c.material) {
      if (c.material.map) c.material.map.dispose();
      c.material.dispose();
    }
  });
}

/**
 * Whether WebGL runs on a software rasteriser (SwiftShader, llvmpipe), where
 * multisampling costs a large share of the frame: the viewer then renders
 * without it. A GPU (a headset's included) gets antialiasing.
 */
function softwareRendering() {
  try {
    const gl = document.createElement("canvas").getContext("webgl2");
    if (!gl) return false;
    let r = String(gl.getParameter(gl.RENDERER) || "");
    if (/^WebKit/.test(r)) {
      const ext = gl.getExtension("WEBGL_debug_renderer_info");
      if (ext) r = String(gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) || r);
    }
    const lose = gl.getExtension("WEBGL_lose_context");
    if (lose) lose.loseContext();
    return /swiftshader|llvmpipe|softpipe|software/i.test(r);
  } catch {
    return false;
  }
}

function makeShip() {
  const g = new Group();
  const hull = new MeshStandardMaterial({ color: 0xd8dde6, metalness: 0.3, roughness: 0.5 });
  const accent = new MeshStandardMaterial({ color: 0xff8a3d, metalness: 0.2, roughness: 0.6 });
  const nose = new Mesh(new ConeGeometry(0.07, 0.28, 16), hull);
  nose.rotation.x = -Math.PI / 2; // point along −Z (forward)
  nose.position.z = -0.1;
  const body = new Mesh(new CylinderGeometry(0.07, 0.08, 0.22, 16), hull);
  body.rotation.x = Math.PI / 2;
  body.position.z = 0.14;
  const wings = new Mesh(new ConeGeometry(0.22, 0.2, 3), accent);
  wings.scale.set(1, 1, 0.12);
  wings.rotation.x = -Math.PI / 2;
  wings.rotation.y = Math.PI;
  wings.position.z = 0.16;
  const flame = new Mesh(
    new ConeGeometry(0.05, 0.2, 12),
    new MeshBasicMaterial({ color: 0x66ccff, transparent: true, opacity: 0.85, blending: AdditiveBlending, depthWrite: false }),
  );
  flame.rotation.x = -Math.PI / 2;
  flame.position.z = 0.35;
  flame.visible = false;
  g.add(nose, body, wings, flame);
  g.userData.flame = flame;
  return g;
}

function makeStars(count = 1500, radius = 180) {
  // A fixed pseudo-random sky (a small LCG: the same stars every time).
  let s = 12345;
  const rnd = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 4294967296);
  const pos = new Float32Array(3 * count);
  for (let i = 0; i < count; i++) {
    const u = 2 * rnd() - 1;
    const th = 2 * Math.PI * rnd();
    const r = Math.sqrt(1 - u * u);
    pos[3 * i] = radius * r * Math.cos(th);
    pos[3 * i + 1] = radius * r * Math.sin(th);
    pos[3 * i + 2] = radius * u;
  }
  const geo = new BufferGeometry();
  geo.setAttribute("position", new BufferAttribute(pos, 3));
  const mat = new PointsMaterial({ color: 0xaab4c8, size: 1.5, sizeAttenuation: false, depthWrite: false });
  const pts = new Points(geo, mat);
  pts.renderOrder = -1;
  return pts;
}

export class Viewer extends EventTarget {
  /**
   * @param {HTMLElement} host  the element the canvas fills
   * @param {import('./telemetry.js').Telemetry} telemetry
   */
  constructor(host, telemetry) {
    super();
    this.host = host;
    this.telemetry = telemetry;
    this.settings = { mode: "log", labels: true, orbits: true, dynamicResolution: true };
    this.clock = new TickClock(90);
    this.bodySamples = new SampleBuffer(8);
    this.playerSamples = new SampleBuffer(16);
    this.particleSamples = new SampleBuffer(4);
    this.meta = null; // bodies metadata
    this.player = null; // latest player data
    this.bodyObjects = [];
    this.orbits = null; // from the last snapshot
    this.shipOrbit = null;
    this.shipTrail = { primary: -1, pts: [], last: 0 };
    this.scaler = new RenderScaler();
    this.pixelBase = Math.min(window.devicePixelRatio || 1, 2);
    this.refreshEstimate = 60;
    this.stats = { frames: 0, xrFrames: 0, fps: 0, renderScale: 1, beltPoints: 0, bodies: 0, lastTick: 0, hasData: false };
    this.viewRotation = new Quaternion();
    this.needsRecenter = true;
    this.visible = true;
    this.frameHooks = [];

    const antialias = !softwareRendering();
    this.stats.antialias = antialias;
    const renderer = new WebGLRenderer({ antialias, powerPreference: "high-performance" });
    renderer.setPixelRatio(this.pixelBase);
    renderer.xr.enabled = true;
    renderer.xr.setReferenceSpaceType("local-floor");
    this.renderer = renderer;
    const canvas = renderer.domElement;
    canvas.id = "view";
    canvas.tabIndex = 0;
    canvas.setAttribute("role", "application");
    canvas.setAttribute("aria-roledescription", "3D view");
    canvas.setAttribute("aria-label", "Live 3D view of the scene. Focus it to fly the ship with the keyboard.");
    canvas.setAttribute("aria-describedby", "controls-help");
    host.prepend(canvas);

    this.scene = new Scene();
    this.scene.background = new Color(0x02030a);
    this.camera = new PerspectiveCamera(60, 1, 0.01, 600);
    this.rig = new Group();
    this.rig.name = "rig";
    this.rig.add(this.camera);
    this.scene.add(this.rig);
    this.camera.position.set(0, 1.0, 3.2);

    this.world = new Group();
    this.world.name = "world";
    this.scene.add(this.world);
    this.stars = makeStars();
    this.scene.add(this.stars);
    this.labels = new Group();
    this.scene.add(this.labels);

    this.ambient = new AmbientLight(0xffffff, 0.25);
    this.sunLight = new PointLight(0xffffff, 2.6, 0, 0);
    this.scene.add(this.ambient);
    this.world.add(this.sunLight);

    this.sphere = new SphereGeometry(1, 48, 24);
    this.ship = makeShip();
    this.ship.visible = false;
    this.world.add(this.ship);
    this.shipLabel = makeLabel("Ship", "#ffb27a");
    this.shipLabel.visible = false;
    this.labels.add(this.shipLabel);

    this.shipOrbitLine = new Line(new BufferGeometry(), new LineBasicMaterial({ color: 0x7dff9e, transparent: true, opacity: 0.75 }));
    this.shipOrbitLine.frustumCulled = false;
    this.shipTrailLine = new Line(new BufferGeometry(), new LineBasicMaterial({ color: 0xffb27a, transparent: true, opacity: 0.6 }));
    this.shipTrailLine.frustumCulled = false;
    this.world.add(this.shipOrbitLine, this.shipTrailLine);

    this.belt = null;

    this.controls = new OrbitControls(this.camera, canvas);
    this.controls.enablePan = false;
    this.controls.enableDamping = true;
    this.controls.minDistance = 0.25;
    this.controls.maxDistance = 150;
    this.controls.mouseButtons = { LEFT: 0, MIDDLE: 1, RIGHT: -1 }; // right drag steers the ship (controls.js)
    this.controls.target.set(0, 0, 0);

    this.onResize = this.onResize.bind(this);
    new ResizeObserver(this.onResize).observe(host);
    this.onResize();

    telemetry.addEventListener("hello", (e) => {
      this.clock.reset(e.detail.tick_rate || 90);
      this.bodySamples.clear();
      this.playerSamples.clear();
      this.particleSamples.clear();
    });
    telemetry.addEventListener("bodies", (e) => this.onBodiesMeta(e.detail));
    telemetry.addEventListener("frame", (e) => this.onFrame(e.detail));
    telemetry.addEventListener("player", (e) => this.onPlayer(e.detail));
    telemetry.addEventListener("snapshot", (e) => this.onSnapshot(e.detail));

    // Bodies in float64 with velocities, twice a second (or every 10 s for
    // large worlds): they carry the orbits and, propagated, the positions
    // near the ship, where the float32 stream is too coarse (±9 km at 1 au).
    let sinceSnapshot = 0;
    this.snapshotTimer = setInterval(() => {
      if (!this.meta || !this.meta.bodies.length || !this.telemetry.live) return;
      sinceSnapshot += 500;
      if (this.meta.bodies.length <= 200 || sinceSnapshot >= 10000) {
        sinceSnapshot = 0;
        telemetry.requestSnapshot(["bodies"]);
      }
    }, 500);

    renderer.setAnimationLoop((t, frame) => this.render(t, frame));
  }

  onResize() {
    const w = Math.max(1, this.host.clientWidth);
    const h = Math.max(1, this.host.clientHeight);
    if (this.renderer.xr.isPresenting) return;
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.renderer.setSize(w, h, false);
  }

  /** Applies viewer settings (see settings.js). */
  applySettings(s) {
    const modeChanged = s.mode !== this.settings.mode;
    this.settings = { ...this.settings, ...s };
    this.scaler.enabled = !!this.settings.dynamicResolution;
    if (!this.scaler.enabled) this.setRenderScale(1);
    if (modeChanged) {
      this.needsRecenter = true;
      this.resetCamera();
    }
    this.labels.visible = !!this.settings.labels;
  }

  resetCamera() {
    if (this.renderer.xr.isPresenting) return;
    const d = this.settings.mode === "log" ? 3.2 : 0.35;
    this.camera.position.set(0, d * 0.32, d);
    this.controls.target.set(0, 0, 0);
    this.controls.update();
  }

  /** Re-aligns the view so the nearest body is below (next frame). */
  recenter() {
    this.needsRecenter = true;
  }

  // ---- data in ----

  onBodiesMeta(d) {
    const bodies = Array.isArray(d.bodies) ? d.bodies : [];
    // A reload of the same scene starts its clock again: forget what
    // belongs to the old run (snapshot, trail).
    if (this.orbits && Number(d.sim_time) < this.orbits.simTime - 1) {
      this.orbits = null;
      this.shipOrbit = null;
      this.shipTrail = { primary: -1, pts: [], last: 0 };
      this.telemetry.requestSnapshot(["bodies"]);
    }
    const sceneChanged = !this.meta || this.meta.scene !== d.scene || this.meta.bodies.length !== bodies.length ||
      this.meta.bodies.some((b, i) => b.name !== bodies[i].name);
    this.meta = {
      scene: d.scene || "",
      sceneName: d.scene_name || "",
      bodies: bodies.map((b) => ({ name: String(b.name), gm: Number(b.gm) || 0, radius: Number(b.radius) || 0 })),
      particleCount: Number(d.particle_count) || 0,
      decimate: Number(d.decimate) || 1,
      groups: d.particle_groups || [],
    };
    if (sceneChanged) {
      this.rebuildBodies();
      this.bodySamples.clear();
      this.particleSamples.clear();
      this.playerSamples.clear();
      this.orbits = null;
      this.shipOrbit = null;
      this.shipTrail = { primary: -1, pts: [], last: 0 };
      this.needsRecenter = true;
      this.telemetry.requestSnapshot(["bodies"]);
      this.dispatchEvent(new CustomEvent("scene", { detail: this.meta }));
    }
  }

  onFrame(f) {
    if (!this.meta || f.bodyCount !== this.meta.bodies.length) return;
    const now = performance.now();
    this.clock.observe(f.tick, now);
    this.bodySamples.push({ tick: f.tick, simTime: f.simTime, pos: f.bodies });
    if (f.particles && f.particles.length) {
      this.particleSamples.push({ tick: f.particleTick, data: f.particles });
    }
    this.stats.lastTick = f.tick;
    this.stats.hasData = true;
  }

  onPlayer(p) {
    if (typeof p.tick !== "number") return;
    this.player = p;
    this.clock.observe(p.tick, performance.now());
    if (!p.present || !p.position) {
      this.playerSamples.clear();
      return;
    }
    const a = p.attitude || { w: 1, x: 0, y: 0, z: 0 };
    this.playerSamples.push({
      tick: p.tick,
      simTime: Number(p.sim_time),
      pos: [p.position.x, p.position.y, p.position.z],
      vel: p.velocity ? [p.velocity.x, p.velocity.y, p.velocity.z] : [0, 0, 0],
      att: { w: a.w ?? 1, x: a.x ?? 0, y: a.y ?? 0, z: a.z ?? 0 },
    });
  }

  onSnapshot(m) {
    const b = m && m.data && m.data.bodies;
    if (!b || !Array.isArray(b.bodies) || !this.meta || b.bodies.length !== this.meta.bodies.length) return;
    const gms = b.bodies.map((x) => Number(x.gm) || 0);
    const pos = new Float64Array(3 * gms.length);
    const vel = new Float64Array(3 * gms.length);
    b.bodies.forEach((x, i) => {
      pos[3 * i] = x.position?.x || 0; pos[3 * i + 1] = x.position?.y || 0; pos[3 * i + 2] = x.position?.z || 0;
      vel[3 * i] = x.velocity?.x || 0; vel[3 * i + 1] = x.velocity?.y || 0; vel[3 * i + 2] = x.velocity?.z || 0;
    });
    const primaries = computePrimaries(gms, pos);
    // Accelerations, for a second-order propagation between snapshots.
    const acc = new Float64Array(3 * gms.length);
    for (let i = 0; i < gms.length; i++) {
      for (let j = 0; j < gms.length; j++) {
        if (i === j || !(gms[j] > 0)) continue;
        const dx = pos[3 * j] - pos[3 * i], dy = pos[3 * j + 1] - pos[3 * i + 1], dz = pos[3 * j + 2] - pos[3 * i + 2];
        const r2 = dx * dx + dy * dy + dz * dz;
        if (!(r2 > 0)) continue;
        const k = gms[j] / (r2 * Math.sqrt(r2));
        acc[3 * i] += k * dx; acc[3 * i + 1] += k * dy; acc[3 * i + 2] += k * dz;
      }
    }
    const rel = gms.map((gm, i) => {
      const P = primaries[i];
      if (P < 0) return null;
      const r = [pos[3 * i] - pos[3 * P], pos[3 * i + 1] - pos[3 * P + 1], pos[3 * i + 2] - pos[3 * P + 2]];
      const v = [vel[3 * i] - vel[3 * P], vel[3 * i + 1] - vel[3 * P + 1], vel[3 * i + 2] - vel[3 * P + 2]];
      return keplerOrbit(r, v, gms[P] + gm, 160, 30 * Math.hypot(...r));
    });
    this.orbits = { primaries, rel, pos, vel, acc, simTime: Number(b.sim_time), at: performance.now() };
    this.bodyObjects.forEach((o, i) => {
      o.orbit.visible = !!rel[i];
      if (rel[i] && o.orbit.geometry.getAttribute("position")?.count !== rel[i].length / 3) {
        o.orbit.geometry.setAttribute("position", new BufferAttribute(new Float32Array(rel[i].length), 3));
      }
    });
  }

  rebuildBodies() {
    for (const o of this.bodyObjects) {
      this.world.remove(o.mesh, o.orbit);
      this.labels.remove(o.label);
      disposeObject(o.mesh);
      disposeObject(o.orbit);
      disposeObject(o.label);
    }
    this.bodyObjects = [];
    const meta = this.meta;
    let root = 0;
    meta.bodies.forEach((b, i) => { if (b.gm > meta.bodies[root].gm) root = i; });
    meta.bodies.forEach((b, i) => {
      const star = i === root && b.gm > 1e18;
      const color = star && BODY_COLORS[b.name.toLowerCase()] === undefined ? new Color(0xffe3b0) : bodyColor(b.name, i);
      const mat = star ? new MeshBasicMaterial({ color }) : new MeshStandardMaterial({ color, roughness: 0.9, metalness: 0 });
      const mesh = new Mesh(this.sphere, mat);
      mesh.userData.sharedGeometry = true;
      mesh.name = b.name;
      const orbit = new LineLoop(new BufferGeometry(), new LineBasicMaterial({ color, transparent: true, opacity: 0.45 }));
      orbit.frustumCulled = false;
      orbit.visible = false;
      const label = makeLabel(b.name);
      this.world.add(mesh, orbit);
      this.labels.add(label);
      this.bodyObjects.push({ mesh, orbit, label, star });
    });
    this.rootIndex = meta.bodies.length ? root : -1;
    this.stats.bodies = meta.bodies.length;
  }

  ensureBelt(n) {
    if (this.belt && this.belt.userData.n === n) return this.belt;
    if (this.belt) {
      this.world.remove(this.belt);
      this.belt.geometry.dispose();
      this.belt.material.dispose();
      this.belt = null;
    }
    if (n === 0) return null;
    const geo = new BufferGeometry();
    geo.setAttribute("position", new BufferAttribute(new Float32Array(3 * n), 3));
    geo.setAttribute("next", new BufferAttribute(new Float32Array(3 * n), 3));
    const mat = new ShaderMaterial({
      vertexShader: BELT_VERTEX,
      fragmentShader: BELT_FRAGMENT,
      uniforms: {
        focus: { value: new Vector3() },
        mode: { value: 0 },
        t: { value: 0 },
        order: { value: 0 },
        logK: { value: LOG_K },
        logD0: { value: LOG_D0 },
        linScale: { value: LINEAR_PER_AU / AU },
        size: { value: 2 },
        color: { value: new Color(0xb8a88f) },
      },
      transparent: false,
      depthWrite: true,
    });
    const pts = new Points(geo, mat);
    pts.frustumCulled = false;
    pts.userData.n = n;
    pts.userData.slots = [null, null]; // the sample each attribute holds
    this.world.add(pts);
    this.belt = pts;
    this.stats.beltPoints = n;
    return pts;
  }

  // ---- per frame ----

  setRenderScale(s) {
    this.stats.renderScale = s;
    if (this.renderer.xr.isPresenting) {
      // Foveation is live in a session; a viewport scale is asked of each
      // view where the runtime supports it (applied in render()).
      this.renderer.xr.setFoveation(Math.min(1, (1 - s) * 2));
    } else {
      this.renderer.setPixelRatio(this.pixelBase * s);
      this.onResize();
    }
  }

  /** The target frame rate the render scale aims at. */
  targetFps() {
    if (this.renderer.xr.isPresenting) {
      const session = this.renderer.xr.getSession();
      return (session && session.frameRate) || 72;
    }
    return this.refreshEstimate;
  }

  render(t, frame) {
    const xr = this.renderer.xr.isPresenting;
    if (!xr && !this.visible) return;
    const now = performance.now();
    if (xr) this.stats.xrFrames++;
    else this.stats.frames++;
    if (this.scaler.frame(now, this.targetFps())) this.setRenderScale(this.scaler.scale);
    this.stats.fps = this.scaler.fps;
    if (!xr && this.scaler.fps > this.refreshEstimate * 1.08) this.refreshEstimate = Math.min(240, Math.round(this.scaler.fps));
    if (xr && frame && this.stats.renderScale < 1) {
      const ref = this.renderer.xr.getReferenceSpace();
      const pose = ref && frame.getViewerPose(ref);
      if (pose) for (const v of pose.views) if (typeof v.requestViewportScale === "function") v.requestViewportScale(this.stats.renderScale);
    }
    this.update(now);
    for (const f of this.frameHooks) f(now, frame);
    if (!xr) this.controls.update();
    this.renderer.render(this.scene, this.camera);
  }

  update(now) {
    const meta = this.meta;
    const rtNow = this.clock.tickAt(now);
    if (rtNow === null || !meta) return;
    const rtFast = rtNow - FAST_DELAY_S * this.clock.rate;
    const rtSlow = rtNow - SLOW_DELAY_S * this.clock.rate;
    const n = meta.bodies.length;
    const maxAhead = 0.25 * this.clock.rate;

    // The simulation time on screen: the ship's samples when there are
    // (30 Hz), else the bodies frames'.
    const snap = this.orbits;
    const hasShip = !!(this.player && this.player.present);
    let pb = hasShip ? this.playerSamples.bracket(rtFast, maxAhead) : null;
    let simTime = pb ? pb.a.simTime + (pb.b.simTime - pb.a.simTime) * pb.f : NaN;
    // Near a recent float64 snapshot, bodies are propagated from it
    // (metres, not the stream's float32 kilometres) at the ship's time.
    let dt = snap ? simTime - snap.simTime : NaN;
    this.precise = n > 0 && Math.abs(dt) < 600;
    const pos = new Float64Array(3 * n);
    if (!this.precise) {
      // Everything from the bodies frames, at the long delay.
      const bb = this.bodySamples.bracket(rtSlow, maxAhead);
      if (!bb && n > 0) return;
      if (bb) {
        lerpArray(pos, bb.a.pos, bb.b.pos, bb.f);
        simTime = bb.a.simTime + (bb.b.simTime - bb.a.simTime) * bb.f;
      }
      dt = snap ? simTime - snap.simTime : NaN;
      if (hasShip) pb = this.playerSamples.bracket(rtSlow, maxAhead);
    } else {
      for (let k = 0; k < 3 * n; k++) pos[k] = snap.pos[k] + snap.vel[k] * dt + 0.5 * snap.acc[k] * dt * dt;
    }
    this.bodyVel = snap && Number.isFinite(dt) && Math.abs(dt) < 600 ? Array.from(snap.vel, (v, k) => v + snap.acc[k] * dt) : null;

    // The ship.
    let ship = null;
    let att = null;
    let shipVel = null;
    if (pb && hasShip) {
      const p = [0, 0, 0];
      lerpArray(p, pb.a.pos, pb.b.pos, pb.f);
      ship = { x: p[0], y: p[1], z: p[2] };
      att = nlerpQuat(pb.a.att, pb.b.att, Math.min(1, pb.f));
      shipVel = [0, 0, 0];
      lerpArray(shipVel, pb.a.vel, pb.b.vel, pb.f);
    }

    const gms = meta.bodies.map((b) => b.gm);
    const radii = meta.bodies.map((b) => b.radius);
    const primaries = this.orbits ? this.orbits.primaries : computePrimaries(gms, pos);
    let shipPrimary = -1;
    if (ship && n > 0) {
      const { root, soi } = spheresOfInfluence(gms, pos);
      shipPrimary = primaryOf(0, ship.x, ship.y, ship.z, gms, pos, soi, root);
    }
    const mode = this.settings.mode;
    const lay = layout(mode, { gms, radii, pos, primaries }, ship, shipPrimary);
    this.lastLayout = { lay, pos, ship, shipPrimary, shipVel };

    // The view: the nearest body below the ship, the ship at the origin.
    if (this.needsRecenter) {
      this.needsRecenter = false;
      this.computeViewRotation(lay, n, !ship);
    }
    this.world.quaternion.copy(this.viewRotation).multiply(AXES);
    const sd = new Vector3(lay.shipDisp[0], lay.shipDisp[1], lay.shipDisp[2]).applyQuaternion(this.world.quaternion);
    this.world.position.copy(sd).negate();
    this.stars.quaternion.copy(this.world.quaternion);
    this.world.updateMatrixWorld(true);

    // Bodies.
    const camPos = new Vector3();
    (this.renderer.xr.isPresenting ? this.renderer.xr.getCamera() : this.camera).getWorldPosition(camPos);
    const tmp = new Vector3();
    for (let i = 0; i < n; i++) {
      const o = this.bodyObjects[i];
      if (!o) continue;
      o.mesh.position.set(lay.disp[3 * i], lay.disp[3 * i + 1], lay.disp[3 * i + 2]);
      o.mesh.scale.setScalar(Math.max(lay.radius[i], 1e-5));
      if (i === lay.root) this.sunLight.position.copy(o.mesh.position);
      tmp.copy(o.mesh.position);
      this.world.localToWorld(tmp);
      const dist = tmp.distanceTo(camPos);
      const size = 0.028 * dist;
      o.label.position.copy(tmp);
      // Above a small body; on a large one (the planet below) at its centre.
      if (lay.radius[i] < 0.12 * dist) o.label.position.y += lay.radius[i] * 1.05;
      o.label.scale.set(size * o.label.userData.aspect, size, 1);
    }

    // Ship.
    this.ship.visible = !!ship;
    this.shipLabel.visible = !!ship;
    if (ship) {
      this.ship.position.set(lay.shipDisp[0], lay.shipDisp[1], lay.shipDisp[2]);
      this.ship.quaternion.set(att.x, att.y, att.z, att.w);
      this.ship.scale.setScalar(mode === "log" ? 1 : 0.05);
      const th = this.player && this.player.input ? this.player.input.throttle : null;
      this.ship.userData.flame.visible = !!th && (Math.abs(th.x) + Math.abs(th.y) + Math.abs(th.z) > 0.01);
      tmp.copy(this.ship.position);
      this.world.localToWorld(tmp);
      const size = 0.028 * tmp.distanceTo(camPos);
      this.shipLabel.position.copy(tmp);
      this.shipLabel.position.y += (mode === "log" ? 0.2 : 0.012);
      this.shipLabel.scale.set(size * this.shipLabel.userData.aspect, size, 1);
    }

    // Belt.
    const pbk = this.particleSamples.bracket(rtSlow, maxAhead);
    if (pbk) {
      const belt = this.ensureBelt(pbk.b.data.length / 3);
      if (belt) {
        const slots = belt.userData.slots;
        const attrs = [belt.geometry.getAttribute("position"), belt.geometry.getAttribute("next")];
        const put = (i, sample) => {
          if (sample.data.length !== attrs[i].array.length) return;
          attrs[i].array.set(sample.data);
          attrs[i].needsUpdate = true;
          slots[i] = sample;
        };
        // Keep whichever of a and b is already uploaded; upload the other.
        for (const want of [pbk.a, pbk.b]) {
          if (slots[0] === want || slots[1] === want) continue;
          const other = want === pbk.a ? pbk.b : pbk.a;
          put(slots[0] === other ? 1 : 0, want);
        }
        const u = belt.material.uniforms;
        u.order.value = slots[0] === pbk.a ? 0 : 1;
        u.focus.value.set(lay.focus[0], lay.focus[1], lay.focus[2]);
        u.mode.value = mode === "log" ? 0 : 1;
        u.t.value = Math.min(1, pbk.f);
        u.size.value = Math.max(1.5, 2 * this.renderer.getPixelRatio());
      }
    } else if (this.belt && (!meta.particleCount)) {
      this.ensureBelt(0);
      this.stats.beltPoints = 0;
    }

    // Orbits and the ship's trail.
    const showOrbits = !!this.settings.orbits;
    if (this.orbits) {
      for (let i = 0; i < n; i++) {
        const o = this.bodyObjects[i];
        const rel = this.orbits.rel[i];
        const P = this.orbits.primaries[i];
        o.orbit.visible = showOrbits && !!rel && P >= 0;
        if (!o.orbit.visible) continue;
        const attr = o.orbit.geometry.getAttribute("position");
        this.mapRelative(attr.array, rel, P, lay, pos, mode === "linear" ? lay.push[i] : 1);
        attr.needsUpdate = true;
        o.orbit.geometry.computeBoundingSphere();
      }
    }
    this.updateShip(now, ship, shipVel, shipPrimary, pos, lay, showOrbits);
  }

  /** Maps points relative to body P (world metres) into display positions in out (Float32Array). */
  mapRelative(out, rel, P, lay, pos, push) {
    const cnt = rel.length / 3;
    if (lay.focus && this.settings.mode === "log") {
      const px = pos[3 * P] - lay.focus[0], py = pos[3 * P + 1] - lay.focus[1], pz = pos[3 * P + 2] - lay.focus[2];
      const tmp = [0, 0, 0];
      for (let k = 0; k < cnt; k++) {
        mapLogInto(tmp, 0, px + rel[3 * k], py + rel[3 * k + 1], pz + rel[3 * k + 2]);
        out[3 * k] = tmp[0]; out[3 * k + 1] = tmp[1]; out[3 * k + 2] = tmp[2];
      }
    } else {
      const s = (LINEAR_PER_AU / AU) * push;
      const ox = lay.disp[3 * P], oy = lay.disp[3 * P + 1], oz = lay.disp[3 * P + 2];
      for (let k = 0; k < cnt; k++) {
        out[3 * k] = ox + rel[3 * k] * s;
        out[3 * k + 1] = oy + rel[3 * k + 1] * s;
        out[3 * k + 2] = oz + rel[3 * k + 2] * s;
      }
    }
  }

  updateShip(now, ship, shipVel, P, pos, lay, showOrbits) {
    const tr = this.shipTrail;
    if (!ship || P < 0) {
      this.shipOrbitLine.visible = this.shipTrailLine.visible = false;
      return;
    }
    const rx = ship.x - pos[3 * P], ry = ship.y - pos[3 * P + 1], rz = ship.z - pos[3 * P + 2];
    // The trail: positions relative to the primary, every 0.5 s, 10 minutes.
    if (tr.primary !== P) {
      tr.primary = P;
      tr.pts = [];
    }
    if (now - tr.last > 500 && this.precise) {
      tr.last = now;
      tr.pts.push(rx, ry, rz);
      if (tr.pts.length > 3 * 1200) tr.pts.splice(0, 3);
    }
    // The osculating orbit about the primary, twice a second.
    if (this.orbits && shipVel && (!this.shipOrbit || now - this.shipOrbit.at > 500 || this.shipOrbit.P !== P)) {
      const v = this.bodyVel || this.orbits.vel;
      const rel = keplerOrbit([rx, ry, rz], [shipVel[0] - v[3 * P], shipVel[1] - v[3 * P + 1], shipVel[2] - v[3 * P + 2]],
        this.meta.bodies[P].gm, 160, 20 * Math.hypot(rx, ry, rz));
      this.shipOrbit = { rel, P, at: now };
    }
    const push = this.settings.mode === "linear" ? lay.shipPush : 1;
    const so = this.shipOrbit && this.shipOrbit.P === P ? this.shipOrbit.rel : null;
    this.shipOrbitLine.visible = showOrbits && !!so;
    if (so) this.setLine(this.shipOrbitLine, so, P, lay, pos, push);
    const trail = tr.pts.length >= 6 ? Float64Array.from(tr.pts.concat([rx, ry, rz])) : null;
    this.shipTrailLine.visible = showOrbits && !!trail;
    if (trail) this.setLine(this.shipTrailLine, trail, P, lay, pos, push);
  }

  setLine(line, rel, P, lay, pos, push) {
    let attr = line.geometry.getAttribute("position");
    if (!attr || attr.array.length !== rel.length) {
      attr = new BufferAttribute(new Float32Array(rel.length), 3);
      line.geometry.setAttribute("position", attr);
    }
    this.mapRelative(attr.array, rel, P, lay, pos, push);
    attr.needsUpdate = true;
    line.geometry.computeBoundingSphere();
  }

  computeViewRotation(lay, n, always = false) {
    // The body whose surface is nearest the ship (in display space) goes
    // in front of the viewer and at least
    // 60° below the horizon: the viewer (behind and above the ship) is
    // then never inside it, and the ecliptic tilts no more than needed.
    let best = -1;
    let bestGap = Infinity;
    for (let i = 0; i < n; i++) {
      const dx = lay.disp[3 * i] - lay.shipDisp[0], dy = lay.disp[3 * i + 1] - lay.shipDisp[1], dz = lay.disp[3 * i + 2] - lay.shipDisp[2];
      const gap = Math.hypot(dx, dy, dz) - lay.radius[i];
      if (gap < bestGap) {
        bestGap = gap;
        best = i;
      }
    }
    this.viewRotation.identity();
    if (best < 0) return;
    const dist = Math.hypot(lay.disp[3 * best] - lay.shipDisp[0], lay.disp[3 * best + 1] - lay.shipDisp[1], lay.disp[3 * best + 2] - lay.shipDisp[2]);
    if (!(dist > 0)) return;
    // u: from the body to the ship, in three.js axes.
    const u = new Vector3(
      lay.shipDisp[0] - lay.disp[3 * best],
      lay.shipDisp[1] - lay.disp[3 * best + 1],
      lay.shipDisp[2] - lay.disp[3 * best + 2],
    ).normalize().applyQuaternion(AXES);
    // Yaw: the body's horizontal direction forward (−z), so u leans to +z.
    const yaw = new Quaternion();
    if (Math.hypot(u.x, u.z) > 1e-6) yaw.setFromAxisAngle(new Vector3(0, 1, 0), -Math.atan2(u.x, u.z));
    u.applyQuaternion(yaw);
    // Pitch: at least 60° of elevation for u (the body that far below).
    // Without a ship there is no viewer to keep clear: exactly 20°, in view.
    const minEl = ((always ? 20 : 60) * Math.PI) / 180;
    const pitch = new Quaternion();
    if (always || Math.asin(Math.max(-1, Math.min(1, u.y))) < minEl) {
      pitch.setFromUnitVectors(u, new Vector3(0, Math.sin(minEl), Math.cos(minEl)));
    }
    this.viewRotation.copy(pitch).multiply(yaw);
  }

  /** The interpolated state the HUD shows. */
  hud() {
    const p = this.player;
    if (!p || !p.present) return null;
    const L = this.lastLayout;
    let near = null;
    if (L && L.ship && this.meta && L.shipPrimary >= 0) {
      const P = L.shipPrimary;
      const b = this.meta.bodies[P];
      const d = Math.hypot(L.ship.x - L.pos[3 * P], L.ship.y - L.pos[3 * P + 1], L.ship.z - L.pos[3 * P + 2]);
      near = { name: b.name, altitude: d - b.radius, speed: null };
      const v = this.bodyVel;
      if (v && L.shipVel) near.speed = Math.hypot(L.shipVel[0] - v[3 * P], L.shipVel[1] - v[3 * P + 1], L.shipVel[2] - v[3 * P + 2]);
    }
    return { speed: p.speed, status: p.status, body: p.body, properTime: p.proper_time, lorentz: p.lorentz_factor, near, input: p.input };
  }
}
