/* One trial: frame interval, masks, preloading, timed presentation, saving the answer.
 *
 * The image(s) are preloaded and decoded before a trial; after a fixation mark they are made
 * visible in one requestAnimationFrame callback (the "show frame"), hidden on the first frame at
 * which elapsed >= target - frame/2 (the "hide frame") and replaced by a noise mask in the same
 * callback. Measured exposure = hide-frame timestamp - show-frame timestamp. Answers are
 * accepted only from the frame after the mask went up (unlimited: after the images did).
 * A pair shows two images side by side (answers left/right); a single image is judged real
 * (F, ←, left button) or fake (J, →, right button).
 */

import {
  $, cfg, FatalError, round3, session, setActiveTrial, setButtons, setPhase, show, sleep,
  waitContinue,
} from "./study-page.js";
import { requestWithRetry, TRIES } from "./study-net.js";

const FRAME_SAMPLES = 30;
const MARGIN_PX = 160; // room kept around the stage for the question, buttons and progress

// Median of FRAME_SAMPLES requestAnimationFrame intervals: the display's frame duration.
export function measureFrameMs() {
  return new Promise((resolve) => {
    const stamps = [];
    const tick = (t) => {
      stamps.push(t);
      if (stamps.length <= FRAME_SAMPLES) {
        requestAnimationFrame(tick);
        return;
      }
      const deltas = stamps.slice(1).map((v, i) => v - stamps[i]).sort((a, b) => a - b);
      resolve(deltas[Math.floor(deltas.length / 2)]);
    };
    requestAnimationFrame(tick);
  });
}

function drawMask(canvas, width, height) {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  const ctx = canvas.getContext("2d");
  const cell = Math.max(4, Math.round(8 * dpr));
  for (let y = 0; y < canvas.height; y += cell) {
    for (let x = 0; x < canvas.width; x += cell) {
      const [r, g, b] = [0, 1, 2].map(() => Math.floor(Math.random() * 256));
      ctx.fillStyle = `rgb(${r},${g},${b})`;
      ctx.fillRect(x, y, cell, cell);
    }
  }
}

// Display size in CSS pixels: width × height, enlarged up to max_scale when the window has room.
function displaySize(mode) {
  const d = cfg.display;
  const across = mode === "pair" ? 2 * d.width + 48 : d.width;
  const room = Math.min((innerWidth - 32) / across, (innerHeight - MARGIN_PX) / d.height);
  const scale = Math.max(1, Math.min(d.max_scale, room));
  return { width: Math.round(d.width * scale), height: Math.round(d.height * scale) };
}

const SLOTS = { pair: ["slot-left", "slot-right"], single: ["slot-single"] };
const MASKS = { pair: ["mask-left", "mask-right"], single: ["mask-single"] };

function layoutStage(mode) {
  const size = displaySize(mode);
  for (const id of SLOTS[mode]) {
    $(id).style.width = `${size.width}px`;
    $(id).style.height = `${size.height}px`;
  }
  for (const id of MASKS[mode]) drawMask($(id), size.width, size.height);
  $("stage").classList.toggle("hidden", mode !== "pair");
  $("stage-single").classList.toggle("hidden", mode !== "single");
  const single = mode === "single";
  $("choose-left").textContent = single ? "Real (F)" : "\u2190 Left (F)";
  $("choose-right").textContent = single ? "Fake (J)" : "Right (J) \u2192";
  $("question").textContent = single ? cfg.single_question : cfg.question;
}

export function setupStage() {
  layoutStage("pair");
}

function loadImage(src) {
  const img = new Image();
  img.alt = "";
  img.decoding = "sync";
  img.src = src;
  return img.decode().then(() => img);
}

export async function preload(trial) {
  let delay = 500;
  const sources = trial.mode === "single" ? [trial.image] : [trial.left, trial.right];
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await Promise.all(sources.map(loadImage));
    } catch (err) {
      if (attempt >= TRIES) throw new FatalError("the images of the next trial could not be loaded");
      await sleep(delay);
      delay = Math.min(delay * 2, 8000);
    }
  }
}

// One trial's own state: what it shows, whether it accepts an answer, and what it measured.
export class TrialRun {
  constructor(trial, imgs) {
    this.trial = trial;
    this.mode = trial.mode === "single" ? "single" : "pair";
    this.imgs = imgs;
    this.accepting = false;
    this.focusLost = false;
    this.stopped = false;
    this.shownAt = null;
    this.measured = null;
    this.resolve = null;
    this.timers = [];
  }

  get masks() {
    return MASKS[this.mode].map($);
  }

  get fixation() {
    return $(this.mode === "single" ? "fixation-single" : "fixation");
  }

  place() {
    layoutStage(this.mode);
    SLOTS[this.mode].forEach((slotId, k) => {
      const slot = $(slotId);
      const old = slot.querySelector("img");
      if (old) old.remove();
      this.imgs[k].classList.remove("shown");
      slot.insertBefore(this.imgs[k], slot.firstChild);
    });
    for (const mask of this.masks) mask.classList.remove("shown");
  }

  clear() {
    for (const el of [...this.imgs, ...this.masks, this.fixation]) el.classList.remove("shown");
    for (const timer of this.timers) clearTimeout(timer);
  }

  stop() {
    this.stopped = true;
    this.accepting = false;
    setButtons(false);
  }

  // An answer from the page (key or button); ignored unless this trial accepts one.
  choose(side, stamp) {
    if (!this.accepting) return;
    this.stop();
    const choice = this.mode === "single" ? (side === "left" ? "real" : "fake") : side;
    this.resolve({ choice, responseMs: stamp - this.shownAt, measured: this.measured });
  }

  openResponse() {
    if (this.stopped) return;
    this.accepting = true;
    setButtons(true);
    setPhase("response");
  }

  // After the response deadline the trial ends without an answer.
  startDeadline() {
    const deadline = cfg.timing.response_deadline_ms;
    if (!deadline) return;
    this.timers.push(setTimeout(() => {
      if (this.stopped) return;
      this.stop();
      this.resolve({ choice: "none", responseMs: deadline, measured: this.measured });
    }, deadline));
  }

  maskOn() {
    for (const img of this.imgs) img.classList.remove("shown");
    for (const mask of this.masks) mask.classList.add("shown");
    const maskMs = cfg.timing.mask_ms;
    if (maskMs > 0) {
      this.timers.push(setTimeout(() => {
        for (const mask of this.masks) mask.classList.remove("shown");
      }, maskMs));
    }
  }

  // Runs fixation, exposure and mask; resolves with the answer once one is accepted.
  present() {
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.place();
      setButtons(false);
      setActiveTrial(this);
      $("stage").dataset.index = String(this.trial.index);
      this.fixation.classList.add("shown");
      setPhase("fixation");
      const half = session.frameMs / 2;
      const exposure = this.trial.exposure_ms;
      let fixStart = null;
      const frame = (t) => {
        if (this.stopped) return;
        if (fixStart === null) fixStart = t;
        if (this.shownAt === null) {
          if (t - fixStart < cfg.timing.fixation_ms - half) {
            requestAnimationFrame(frame);
            return;
          }
          this.fixation.classList.remove("shown");
          for (const img of this.imgs) img.classList.add("shown");
          this.shownAt = t;
          setPhase("stimulus");
          this.startDeadline();
          requestAnimationFrame(exposure === null ? () => this.openResponse() : frame);
          return;
        }
        const elapsed = t - this.shownAt;
        if (elapsed < exposure - half) {
          requestAnimationFrame(frame);
          return;
        }
        this.maskOn();
        this.measured = elapsed;
        setPhase("mask");
        requestAnimationFrame(() => this.openResponse());
      };
      requestAnimationFrame(frame);
    });
  }
}

// Saves one answer, retrying on its own first and then with the person's "Try again".
export async function saveAnswer(run, result) {
  const body = {
    choice: result.choice,
    response_ms: Math.max(round3(result.responseMs), 0.001),
    exposure_ms_measured: result.measured === null ? null : round3(result.measured),
    frame_ms: round3(session.frameMs),
    dpr: window.devicePixelRatio || 1,
    window_w: Math.round(innerWidth),
    window_h: Math.round(innerHeight),
    focus_lost: run.focusLost,
  };
  const path = `api/trials/${run.trial.id}/answer`;
  for (;;) {
    const reply = await requestWithRetry("POST", path, body, TRIES);
    if (reply.status === 200) return reply.data;
    if (reply.status !== 0 && reply.status < 500 && reply.status !== 429) {
      throw new FatalError(reply.data.error || `the server refused the answer (${reply.status})`);
    }
    $("save-error-text").textContent =
      `${reply.data.error || "The server did not answer"}. Check your connection and try again.`;
    show("screen-save-error");
    setPhase("save-error");
    await waitContinue($("retry"));
    show("screen-trial");
    setPhase("saving");
  }
}
