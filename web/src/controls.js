// Pilot input on the desktop (keyboard, mouse, gamepad) and the sender
// that turns any input source into `input` messages: up to 25 Hz while
// input is held (the server zeroes input after 500 ms of silence), one
// zero message on release.

/** Largest rotation rate the controls ask for, rad/s (the server clamps at π). */
export const MAX_RATE = 0.8;

const DEADZONE = 0.15;

export function zeroInput() {
  return { throttle: { x: 0, y: 0, z: 0 }, rotation: { x: 0, y: 0, z: 0 } };
}

export function isZero(inp) {
  const t = inp.throttle, r = inp.rotation;
  return !(t.x || t.y || t.z || r.x || r.y || r.z);
}

const clamp1 = (v) => Math.max(-1, Math.min(1, v));

/** Applies a dead zone and rescales the rest to [-1, 1]. */
export function deadzone(v, dz = DEADZONE) {
  const a = Math.abs(v);
  if (!(a > dz)) return 0;
  return Math.sign(v) * Math.min(1, (a - dz) / (1 - dz));
}

/** Adds b into a (each axis clamped: throttle to 1, rotation to MAX_RATE). */
export function addInput(a, b) {
  for (const k of ["x", "y", "z"]) {
    a.throttle[k] = clamp1(a.throttle[k] + b.throttle[k]);
    a.rotation[k] = Math.max(-MAX_RATE, Math.min(MAX_RATE, a.rotation[k] + b.rotation[k]));
  }
  return a;
}

// Key → [kind, axis, sign]. -Z is forward (vessel frame).
const KEYS = {
  KeyW: ["throttle", "z", -1],
  KeyS: ["throttle", "z", 1],
  KeyA: ["throttle", "x", -1],
  KeyD: ["throttle", "x", 1],
  KeyR: ["throttle", "y", 1],
  KeyF: ["throttle", "y", -1],
  KeyQ: ["rotation", "z", 1], // roll left
  KeyE: ["rotation", "z", -1], // roll right
  ArrowUp: ["rotation", "x", -1], // nose down
  ArrowDown: ["rotation", "x", 1], // nose up
  ArrowLeft: ["rotation", "y", 1], // yaw left
  ArrowRight: ["rotation", "y", -1], // yaw right
};

function typingTarget(t) {
  if (!t || !(t instanceof Element)) return false;
  return t.isContentEditable || ["INPUT", "SELECT", "TEXTAREA", "BUTTON", "A", "SUMMARY"].includes(t.tagName);
}

/** Keyboard, right-drag mouse steering and the first gamepad, on a canvas. */
export class DesktopControls {
  constructor(canvas) {
    this.canvas = canvas;
    this.keys = new Set();
    this.drag = null; // {x0, y0, x, y} while the right button steers
    this.enabled = true;
    const onKey = (down) => (e) => {
      if (!KEYS[e.code]) return;
      if (down && (typingTarget(e.target) || e.ctrlKey || e.metaKey || e.altKey)) return;
      // Flying keys act when the page itself or the 3D view has the focus.
      if (down && e.target !== canvas && e.target !== document.body && e.target !== document.documentElement) return;
      if (down) {
        this.keys.add(e.code);
        e.preventDefault();
      } else {
        this.keys.delete(e.code);
      }
    };
    window.addEventListener("keydown", onKey(true));
    window.addEventListener("keyup", onKey(false));
    window.addEventListener("blur", () => {
      this.keys.clear();
      this.drag = null;
    });
    canvas.addEventListener("contextmenu", (e) => e.preventDefault());
    canvas.addEventListener("pointerdown", (e) => {
      if (e.button !== 2) return;
      this.drag = { x0: e.clientX, y0: e.clientY, x: e.clientX, y: e.clientY };
      canvas.setPointerCapture(e.pointerId);
    });
    canvas.addEventListener("pointermove", (e) => {
      if (this.drag) {
        this.drag.x = e.clientX;
        this.drag.y = e.clientY;
      }
    });
    const end = (e) => {
      if (this.drag && (e.button === 2 || e.type !== "pointerup")) this.drag = null;
    };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
  }

  /** The current input from every desktop source. */
  read() {
    const inp = zeroInput();
    if (!this.enabled) return inp;
    for (const code of this.keys) {
      const [kind, axis, sign] = KEYS[code];
      if (kind === "throttle") inp.throttle[axis] = clamp1(inp.throttle[axis] + sign);
      else inp.rotation[axis] = Math.max(-MAX_RATE, Math.min(MAX_RATE, inp.rotation[axis] + sign * MAX_RATE * 0.6));
    }
    if (this.drag) {
      // Steer by how far the pointer is from where the drag began.
      const s = Math.min(this.canvas.clientWidth, this.canvas.clientHeight) / 4 || 100;
      const dx = deadzone((this.drag.x - this.drag.x0) / s, 0.05);
      const dy = deadzone((this.drag.y - this.drag.y0) / s, 0.05);
      addInput(inp, { throttle: { x: 0, y: 0, z: 0 }, rotation: { x: -dy * MAX_RATE, y: -dx * MAX_RATE, z: 0 } });
    }
    const pads = typeof navigator.getGamepads === "function" ? navigator.getGamepads() : [];
    for (const gp of pads || []) {
      if (!gp || !gp.connected || gp.mapping !== "standard") continue;
      const ax = (i) => deadzone(gp.axes[i] || 0);
      const btn = (i) => (gp.buttons[i] ? gp.buttons[i].value : 0);
      addInput(inp, {
        throttle: { x: ax(0), y: btn(7) - btn(6), z: ax(1) },
        rotation: { x: ax(3) * MAX_RATE, y: -ax(2) * MAX_RATE, z: (btn(4) - btn(5)) * MAX_RATE },
      });
      break;
    }
    return inp;
  }
}

/** Sends input to the server: at most `hz` while non-zero, one zero on release. */
export class InputSender {
  constructor(telemetry, hz = 25) {
    this.telemetry = telemetry;
    this.interval = 1000 / hz;
    this.last = 0;
    this.active = false;
    this.allowed = true;
    this.sent = 0;
  }

  update(inp, now) {
    if (!this.allowed) return;
    if (isZero(inp)) {
      if (this.active) {
        this.active = false;
        this.send(zeroInput());
      }
      return;
    }
    if (!this.active || now - this.last >= this.interval) {
      this.active = true;
      this.last = now;
      this.send(inp);
    }
  }

  send(inp) {
    const r = (v) => Math.round(v * 1000) / 1000;
    const msg = {
      type: "input",
      throttle: { x: r(inp.throttle.x), y: r(inp.throttle.y), z: r(inp.throttle.z) },
      rotation: { x: r(inp.rotation.x), y: r(inp.rotation.y), z: r(inp.rotation.z) },
    };
    this.telemetry.sendTagged("input", msg);
    this.sent++;
  }

  /** Stops sending (the role may not pilot); releases held input first. */
  disallow() {
    if (this.active) this.send(zeroInput());
    this.active = false;
    this.allowed = false;
  }

  allow() {
    this.allowed = true;
  }
}
