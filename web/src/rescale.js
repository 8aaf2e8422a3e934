// Dynamic render scale (the guide's "dynamic quality"): when the frame
// rate stays under a share of the target for a while, render fewer pixels;
// when there is headroom for longer, render more again. Pure logic, fed
// with frame timestamps; the viewer applies the scale it answers.

export const SCALE_STEPS = [1, 0.85, 0.7, 0.55];

export class RenderScaler {
  /**
   * @param {object} o
   * @param {number} [o.threshold=0.9]  lower below threshold × target fps …
   * @param {number} [o.lowerAfterMs=2000]  … sustained this long
   * @param {number} [o.headroom=0.97]  raise at or above headroom × target …
   * @param {number} [o.raiseAfterMs=5000]  … sustained this long
   */
  constructor({ threshold = 0.9, lowerAfterMs = 2000, headroom = 0.97, raiseAfterMs = 5000 } = {}) {
    this.threshold = threshold;
    this.lowerAfterMs = lowerAfterMs;
    this.headroom = headroom;
    this.raiseAfterMs = raiseAfterMs;
    this.enabled = true;
    this.reset();
  }

  /** Back to full scale and no history (a new session, a setting change). */
  reset() {
    this.step = 0;
    this.windowStart = null;
    this.windowFrames = 0;
    this.fps = 0;
    this.lowSince = null;
    this.highSince = null;
  }

  get scale() {
    return SCALE_STEPS[this.step];
  }

  /**
   * Counts a frame at time t (ms) against the target frame rate. Returns
   * true when the scale changed.
   */
  frame(t, targetFps) {
    if (this.windowStart === null) {
      this.windowStart = t;
      this.windowFrames = 0;
      return false;
    }
    this.windowFrames++;
    const span = t - this.windowStart;
    if (span < 500) return false;
    this.fps = (this.windowFrames * 1000) / span;
    this.windowStart = t;
    this.windowFrames = 0;
    if (!this.enabled || !(targetFps > 0)) {
      this.lowSince = this.highSince = null;
      if (this.step !== 0 && !this.enabled) {
        this.step = 0;
        return true;
      }
      return false;
    }
    if (this.fps < this.threshold * targetFps) {
      this.highSince = null;
      if (this.lowSince === null) this.lowSince = t - span;
      if (t - this.lowSince >= this.lowerAfterMs && this.step < SCALE_STEPS.length - 1) {
        this.step++;
        this.lowSince = null;
        return true;
      }
    } else if (this.fps >= this.headroom * targetFps) {
      this.lowSince = null;
      if (this.highSince === null) this.highSince = t - span;
      if (t - this.highSince >= this.raiseAfterMs && this.step > 0) {
        this.step--;
        this.highSince = null;
        return true;
      }
    } else {
      this.lowSince = this.highSince = null;
    }
    return false;
  }
}
