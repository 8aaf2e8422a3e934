// Immersive VR: three's VRButton starts an immersive-vr session; in it the
// controllers fly the ship, snap-turn and teleport the viewer, a comfort
// vignette narrows the view while the ship accelerates or turns, and the
// client reports its session, poses and frame rate to the server
// (`vr_state`, at most 10 Hz, and at once when a session starts or ends).

import {
  BufferGeometry,
  CircleGeometry,
  Float32BufferAttribute,
  Group,
  Line,
  LineBasicMaterial,
  Mesh,
  MeshBasicMaterial,
  MeshStandardMaterial,
  BoxGeometry,
  PlaneGeometry,
  RingGeometry,
  ShaderMaterial,
  Vector3,
  Matrix4,
  Quaternion,
} from "three";
import { VRButton } from "three/addons/webxr/VRButton.js";
import { MAX_RATE, addInput, deadzone, isZero, zeroInput } from "./controls.js";
import { headsetType } from "./headset.js";

const VIGNETTE_VERTEX = /* glsl */ `
varying vec2 vUv;
void main() {
  vUv = uv;
  gl_Position = projectionMatrix * modelViewMatrix * vec4(position, 1.0);
}`;

const VIGNETTE_FRAGMENT = /* glsl */ `
uniform float amount;
varying vec2 vUv;
void main() {
  // r = 1 about 53° off the view axis (0.4 m at 0.3 m); the quad reaches 76°.
  float r = length(vUv - 0.5) * 6.0;
  float inner = mix(0.95, 0.45, amount);
  float a = smoothstep(inner, inner + 0.3, r) * amount;
  gl_FragColor = vec4(0.0, 0.0, 0.0, a);
}`;

/** Eye height in the local-floor space and where the rig stands relative to the ship. */
const RIG_START = new Vector3(0, -1.1, 2.2);
const DECK_RADIUS = 4;
const SNAP_ANGLE = Math.PI / 6; // 30°

function poseOf(transform) {
  const p = transform.position, o = transform.orientation;
  const r = (v) => Math.round(v * 10000) / 10000;
  return {
    position: { x: r(p.x), y: r(p.y), z: r(p.z) },
    orientation: { w: r(o.w), x: r(o.x), y: r(o.y), z: r(o.z) },
  };
}

export class VRSupport extends EventTarget {
  /**
   * @param {import('./viewer.js').Viewer} viewer
   * @param {import('./telemetry.js').Telemetry} telemetry
   * @param {import('./controls.js').InputSender} sender
   * @param {HTMLElement} buttonHost
   */
  constructor(viewer, telemetry, sender, buttonHost) {
    super();
    this.viewer = viewer;
    this.telemetry = telemetry;
    this.sender = sender;
    this.comfort = { snapTurn: true, teleport: true, vignette: true };
    this.session = null;
    this.lastReport = 0;
    this.desktopReported = false;
    this.vignetteAmount = 0;
    this.snapReady = true;
    this.teleportAim = null;
    this.reportsSent = 0;
    this.headset = "";
    this.xrStart = 0;
    this.firstFrameReported = false;
    this.input = zeroInput();

    const renderer = viewer.renderer;
    this.button = VRButton.createButton(renderer, { optionalFeatures: ["local-floor"] });
    this.button.classList.add("vr-button");
    buttonHost.append(this.button);
    // VRButton leaves a dead button when there is no immersive-vr: say so, and disable it.
    const mark = () => {
      const none = /NOT|NEEDS/i.test(this.button.textContent || "");
      if (this.button.tagName === "BUTTON") this.button.disabled = none;
      // Without WebXR it is a link elsewhere: keep the words, not the way out.
      if (this.button.tagName === "A") this.button.removeAttribute("href");
      this.button.title = none ? "This browser has no immersive VR (WebXR immersive-vr) session to offer." : "";
    };
    new MutationObserver(mark).observe(this.button, { childList: true, characterData: true, subtree: true });
    mark();

    // Controllers: a ray and a small box on each grip, no downloaded models.
    this.controllers = [0, 1].map((i) => {
      const ray = renderer.xr.getController(i);
      const grip = renderer.xr.getControllerGrip(i);
      const line = new Line(
        new BufferGeometry().setAttribute("position", new Float32BufferAttribute([0, 0, 0, 0, 0, -1], 3)),
        new LineBasicMaterial({ color: 0x9fd3ff, transparent: true, opacity: 0.7 }),
      );
      line.scale.z = 2;
      ray.add(line);
      grip.add(new Mesh(new BoxGeometry(0.04, 0.03, 0.12), new MeshStandardMaterial({ color: 0x3a4150, roughness: 0.6 })));
      const c = { index: i, ray, grip, line, source: null };
      ray.addEventListener("connected", (e) => {
        c.source = e.data;
        this.updateHeadset();
      });
      ray.addEventListener("disconnected", () => {
        c.source = null;
      });
      ray.addEventListener("selectstart", () => this.onSelectStart(c));
      ray.addEventListener("selectend", () => this.onSelectEnd(c));
      viewer.rig.add(ray, grip);
      return c;
    });

    // The deck the viewer can teleport on, and the teleport marker.
    // A faint disc with a brighter rim: it must not hide the planet below.
    this.deck = new Group();
    const disc = new Mesh(
      new CircleGeometry(DECK_RADIUS, 48),
      new MeshBasicMaterial({ color: 0x6b8cce, transparent: true, opacity: 0.07, depthWrite: false }),
    );
    const rim = new Mesh(
      new RingGeometry(DECK_RADIUS - 0.04, DECK_RADIUS, 96),
      new MeshBasicMaterial({ color: 0x9fd3ff, transparent: true, opacity: 0.5, depthWrite: false }),
    );
    disc.rotation.x = rim.rotation.x = -Math.PI / 2;
    this.deck.add(disc, rim);
    this.deck.visible = false;
    this.marker = new Mesh(new RingGeometry(0.18, 0.25, 32), new MeshBasicMaterial({ color: 0x7dff9e }));
    this.marker.rotation.x = -Math.PI / 2;
    this.marker.visible = false;
    viewer.scene.add(this.deck, this.marker);

    // The comfort vignette: a head-locked quad in front of the eyes.
    this.vignette = new Mesh(
      new PlaneGeometry(2.4, 2.4),
      new ShaderMaterial({
        vertexShader: VIGNETTE_VERTEX,
        fragmentShader: VIGNETTE_FRAGMENT,
        uniforms: { amount: { value: 0 } },
        transparent: true,
        depthTest: false,
        depthWrite: false,
      }),
    );
    this.vignette.position.z = -0.3;
    this.vignette.renderOrder = 100;
    this.vignette.visible = false;
    this.vignette.frustumCulled = false;
    viewer.camera.add(this.vignette);

    renderer.xr.addEventListener("sessionstart", () => this.onSessionStart());
    renderer.xr.addEventListener("sessionend", () => this.onSessionEnd());
    viewer.frameHooks.push((now, frame) => this.onFrame(now, frame));
    telemetry.addEventListener("hello", () => {
      this.desktopReported = false;
      if (this.session) this.report(performance.now(), null, true);
    });
  }

  applySettings(s) {
    this.comfort = { snapTurn: !!s.snapTurn, teleport: !!s.teleport, vignette: !!s.vignette };
    if (!this.comfort.vignette) this.vignette.visible = false;
    this.deck.visible = !!this.session && this.comfort.teleport;
  }

  updateHeadset() {
    const lists = this.controllers.map((c) => (c.source && c.source.profiles) || []);
    if (this.session) for (const s of this.session.inputSources) lists.push(s.profiles || []);
    this.headset = headsetType(navigator.userAgent, lists);
  }

  onSessionStart() {
    const v = this.viewer;
    this.session = v.renderer.xr.getSession();
    this.savedCamera = { p: v.camera.position.clone(), q: v.camera.quaternion.clone() };
    v.rig.position.copy(RIG_START);
    v.rig.quaternion.identity();
    this.deck.position.set(0, RIG_START.y, RIG_START.z - 1);
    this.deck.visible = this.comfort.teleport;
    v.scaler.reset();
    v.stats.renderScale = 1;
    v.recenter();
    this.xrStart = performance.now();
    this.firstFrameReported = false;
    this.updateHeadset();
    this.session.addEventListener("inputsourceschange", () => this.updateHeadset());
    this.dispatchEvent(new CustomEvent("session", { detail: { active: true } }));
  }

  onSessionEnd() {
    const v = this.viewer;
    this.session = null;
    this.deck.visible = this.marker.visible = this.vignette.visible = false;
    this.teleportAim = null;
    if (!isZero(this.input)) {
      this.input = zeroInput();
      this.sender.update(this.input, performance.now());
    }
    v.rig.position.set(0, 0, 0);
    v.rig.quaternion.identity();
    if (this.savedCamera) {
      v.camera.position.copy(this.savedCamera.p);
      v.camera.quaternion.copy(this.savedCamera.q);
    }
    v.scaler.reset();
    v.setRenderScale(1);
    v.onResize();
    this.report(performance.now(), null, true);
    this.dispatchEvent(new CustomEvent("session", { detail: { active: false } }));
  }

  onSelectStart(c) {
    if (!this.comfort.teleport || !c.source || c.source.handedness !== "right") return;
    this.teleportAim = c;
  }

  onSelectEnd(c) {
    if (this.teleportAim !== c) return;
    this.teleportAim = null;
    if (!this.marker.visible) return;
    this.marker.visible = false;
    // Move the rig so the head stands on the marker.
    const v = this.viewer;
    const head = new Vector3();
    v.renderer.xr.getCamera().getWorldPosition(head);
    v.rig.position.x += this.marker.position.x - head.x;
    v.rig.position.z += this.marker.position.z - head.z;
    this.pulse = 1;
  }

  /** Aims the teleport ray at the deck; shows the marker where it lands. */
  aimTeleport() {
    const c = this.teleportAim;
    if (!c) {
      this.marker.visible = false;
      return;
    }
    const m = c.ray.matrixWorld;
    const origin = new Vector3().setFromMatrixPosition(m);
    const dir = new Vector3(0, 0, -1).transformDirection(m);
    const y = this.deck.position.y;
    if (dir.y >= -1e-3) {
      this.marker.visible = false;
      return;
    }
    const t = (y - origin.y) / dir.y;
    const hit = origin.addScaledVector(dir, t);
    const dx = hit.x - this.deck.position.x, dz = hit.z - this.deck.position.z;
    this.marker.visible = Math.hypot(dx, dz) <= DECK_RADIUS;
    this.marker.position.set(hit.x, y + 0.01, hit.z);
  }

  snapTurn(sign) {
    const v = this.viewer;
    const head = new Vector3();
    v.renderer.xr.getCamera().getWorldPosition(head);
    // Rotate the rig about the vertical through the head.
    const rot = new Quaternion().setFromAxisAngle(new Vector3(0, 1, 0), sign * SNAP_ANGLE);
    const m = new Matrix4().makeTranslation(head.x, 0, head.z)
      .multiply(new Matrix4().makeRotationFromQuaternion(rot))
      .multiply(new Matrix4().makeTranslation(-head.x, 0, -head.z));
    v.rig.updateMatrix();
    v.rig.matrix.premultiply(m);
    v.rig.matrix.decompose(v.rig.position, v.rig.quaternion, v.rig.scale);
    this.pulse = 1;
  }

  /** Controller input for this frame (thumbsticks, squeeze, buttons). */
  readControllers() {
    const inp = zeroInput();
    if (!this.session) return inp;
    for (const src of this.session.inputSources) {
      const gp = src.gamepad;
      if (!gp) continue;
      const ax = (i) => deadzone(gp.axes[i] || 0);
      const btn = (i) => (gp.buttons[i] ? gp.buttons[i].value : 0);
      // xr-standard: axes 2, 3 are the thumbstick; buttons 1 squeeze, 4/5 A-B or X-Y.
      const sx = ax(2), sy = ax(3);
      if (src.handedness === "left") {
        addInput(inp, {
          throttle: { x: sx, y: -btn(1), z: sy },
          rotation: { x: 0, y: 0, z: btn(4) * MAX_RATE },
        });
      } else if (src.handedness === "right") {
        let yaw = 0;
        if (this.comfort.snapTurn) {
          if (this.snapReady && Math.abs(sx) > 0.7) {
            this.snapTurn(sx > 0 ? -1 : 1);
            this.snapReady = false;
          } else if (Math.abs(sx) < 0.3) {
            this.snapReady = true;
          }
        } else {
          yaw = -sx * MAX_RATE;
        }
        addInput(inp, {
          throttle: { x: 0, y: btn(1), z: 0 },
          rotation: { x: sy * MAX_RATE, y: yaw, z: -btn(4) * MAX_RATE },
        });
        if (btn(5) > 0.5 && !this.recenterHeld) this.viewer.recenter();
        this.recenterHeld = btn(5) > 0.5;
      }
    }
    return inp;
  }

  onFrame(now, frame) {
    const v = this.viewer;
    if (!this.session || !v.renderer.xr.isPresenting) {
      // Desktop: report once (after a second of frames, for a real frame rate).
      if (!this.desktopReported && v.stats.fps > 0 && this.telemetry.live) {
        this.desktopReported = this.report(now, null, true);
      }
      return;
    }
    this.input = this.readControllers();
    this.sender.update(this.input, now);
    this.aimTeleport();

    // Vignette: stronger with more thrust or turning, and after a snap turn or teleport.
    const t = this.input.throttle, r = this.input.rotation;
    const motion = Math.min(1, Math.hypot(t.x, t.y, t.z) + Math.hypot(r.x, r.y, r.z) / MAX_RATE);
    this.pulse = Math.max(0, (this.pulse || 0) - 0.05);
    const target = this.comfort.vignette ? Math.max(motion * 0.85, this.pulse) : 0;
    this.vignetteAmount += (target - this.vignetteAmount) * 0.15;
    this.vignette.visible = this.vignetteAmount > 0.01;
    this.vignette.material.uniforms.amount.value = this.vignetteAmount;

    if (frame && (!this.firstFrameReported || now - this.lastReport >= 100)) {
      this.report(now, frame, !this.firstFrameReported);
      this.firstFrameReported = true;
    }
  }

  /** Sends a vr_state. Returns whether it went out. */
  report(now, frame, tagged = false) {
    const v = this.viewer;
    const active = !!this.session && v.renderer.xr.isPresenting;
    const msg = {
      type: "vr_state",
      session_active: active,
      runtime: "WebXR",
      render_fps: Math.round((v.stats.fps || 0) * 10) / 10,
      render_scale: v.stats.renderScale,
    };
    if (active) {
      msg.headset_type = this.headset || headsetType(navigator.userAgent, []);
      const ref = v.renderer.xr.getReferenceSpace();
      if (frame && ref) {
        const pose = frame.getViewerPose(ref);
        if (pose) msg.headset = poseOf(pose.transform);
        const controllers = [];
        for (const src of this.session.inputSources) {
          if (!src.gamepad && !src.gripSpace) continue;
          const space = src.gripSpace || src.targetRaySpace;
          const p = space && frame.getPose(space, ref);
          if (!p || controllers.length >= 4) continue;
          controllers.push({ hand: src.handedness || "none", connected: true, pose: poseOf(p.transform) });
        }
        msg.controllers = controllers;
      }
    }
    this.lastReport = now;
    const ok = tagged ? this.telemetry.send({ ...msg, id: "vr_state" }) : this.telemetry.send(msg);
    if (ok) this.reportsSent++;
    return ok;
  }
}
