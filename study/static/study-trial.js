/* One trial: frame interval, masks, preloading, timed presentation, saving the answer.
 *
 * Both images are preloaded and decoded before a trial; after a fixation mark they are made
 * visible in one requestAnimationFrame callback (the "show frame"), hidden on the first frame at
 * which elapsed >= target - frame/2 (the "hide frame") and replaced by a noise mask in the same
 * callback. Measured exposure = hide-frame timestamp - show-frame timestamp. Answers are
 * accepted only from the frame after the mask went up (unlimited: after the images did).
 */

import {
  $, cfg, FatalError, round3, run, setButtons, setPhase, show, sleep, waitContinue,
} from "./study-page.js";
import { requestWithRetry, TRIES } from "./study-net.js";

const FRAME_SAMPLES = 30;

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

function drawMask(canvas) {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(cfg.display.width * dpr);
  canvas.height = Math.round(cfg.display.height * dpr);
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

export function setupStage() {
  for (const id of ["slot-left", "slot-right"]) {
    $(id).style.width = `${cfg.display.width}px`;
    $(id).style.height = `${cfg.display.height}px`;
  }
  drawMask($("mask-left"));
  drawMask($("mask-right"));
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
  for (let attempt = 1; ; attempt += 1) {
    try {
      const [left, right] = await Promise.all([loadImage(trial.left), loadImage(trial.right)]);
      return { left, right };
    } catch (err) {
      if (attempt >= TRIES) throw new FatalError("the images of the next trial could not be loaded");
      await sleep(delay);
      delay = Math.min(delay * 2, 8000);
    }
  }
}

function placeImages(imgs) {
  for (const [slotId, img] of [["slot-left", imgs.left], ["slot-right", imgs.right]]) {
    const slot = $(slotId);
    const old = slot.querySelector("img");
    if (old) old.remove();
    img.classList.remove("shown");
    slot.insertBefore(img, slot.firstChild);
  }
  $("mask-left").classList.remove("shown");
  $("mask-right").classList.remove("shown");
}

export function clearStage(imgs) {
  for (const el of [imgs.left, imgs.right, $("mask-left"), $("mask-right"), $("fixation")]) {
    el.classList.remove("shown");
  }
}

// Runs fixation, exposure and mask; resolves with the answer once one is accepted.
export function present(trial, imgs) {
  return new Promise((resolve) => {
    placeImages(imgs);
    setButtons(false);
    run.accepting = false;
    run.focusLost = false;
    run.trial = trial;
    $("stage").dataset.index = String(trial.index);
    $("fixation").classList.add("shown");
    setPhase("fixation");
    const half = run.frameMs / 2;
    let fixStart = null;
    let shownAt = null;
    let measured = null;
    const openResponse = () => {
      run.onChoice = (side, stamp) => resolve({ side, responseMs: stamp - shownAt, measured });
      run.accepting = true;
      setButtons(true);
      setPhase("response");
    };
    const frame = (t) => {
      if (fixStart === null) fixStart = t;
      if (shownAt === null) {
        if (t - fixStart < cfg.fixation_ms - half) {
          requestAnimationFrame(frame);
          return;
        }
        $("fixation").classList.remove("shown");
        imgs.left.classList.add("shown");
        imgs.right.classList.add("shown");
        shownAt = t;
        setPhase("stimulus");
        requestAnimationFrame(trial.exposure_ms === null ? openResponse : frame);
        return;
      }
      const elapsed = t - shownAt;
      if (elapsed < trial.exposure_ms - half) {
        requestAnimationFrame(frame);
        return;
      }
      imgs.left.classList.remove("shown");
      imgs.right.classList.remove("shown");
      $("mask-left").classList.add("shown");
      $("mask-right").classList.add("shown");
      measured = elapsed;
      setPhase("mask");
      requestAnimationFrame(openResponse);
    };
    requestAnimationFrame(frame);
  });
}

// Saves one answer, retrying on its own first and then with the person's "Try again".
export async function saveAnswer(trial, result) {
  const body = {
    choice: result.side,
    response_ms: Math.max(round3(result.responseMs), 0.001),
    exposure_ms_measured: result.measured === null ? null : round3(result.measured),
    frame_ms: round3(run.frameMs),
    dpr: window.devicePixelRatio || 1,
    window_w: Math.round(innerWidth),
    window_h: Math.round(innerHeight),
    focus_lost: run.focusLost,
  };
  const path = `api/trials/${trial.id}/answer`;
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
