/* crnkit participant page: consent, practice with feedback, timed trials, completion.
 * Entry module; see study-trial.js for how timed presentation works. */

import {
  $, cfg, FatalError, fail, inTrial, listenForAnswers, phase, round3, run, setPhase, show,
  updateProgress, waitContinue,
} from "./study-page.js";
import {
  flushEvents, loadToken, recordEvent, requestWithRetry, saveToken, TRIES,
} from "./study-net.js";
import { clearStage, measureFrameMs, preload, present, saveAnswer, setupStage } from "./study-trial.js";

function watchPage() {
  listenForAnswers();
  window.addEventListener("blur", () => {
    if (inTrial()) run.focusLost = true;
    recordEvent("focus_lost", phase());
  });
  window.addEventListener("focus", () => recordEvent("focus_back", phase()));
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) return;
    if (inTrial()) run.focusLost = true;
    recordEvent("visibility_hidden", phase());
  });
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => recordEvent("resize", `${innerWidth}x${innerHeight}`), 300);
  });
  document.addEventListener("fullscreenchange", () => {
    recordEvent(document.fullscreenElement ? "fullscreen_enter" : "fullscreen_exit", phase());
  });
  setInterval(flushEvents, 5000);
}

function enterFullscreen() {
  if (!cfg.display.fullscreen || document.fullscreenElement) return;
  const el = document.documentElement;
  if (el.requestFullscreen) el.requestFullscreen().catch(() => recordEvent("fullscreen_exit", "refused"));
}

function windowBigEnough() {
  return innerWidth >= cfg.display.min_window_width && innerHeight >= cfg.display.min_window_height;
}

async function ensureWindowSize() {
  if (windowBigEnough()) return;
  const describe = () => {
    $("size-needed").textContent = `${cfg.display.min_window_width} × ${cfg.display.min_window_height}`;
    $("size-now").textContent = `${innerWidth} × ${innerHeight}`;
  };
  describe();
  show("screen-size");
  setPhase("size");
  await new Promise((resolve) => {
    const check = () => {
      describe();
      if (!windowBigEnough()) return;
      window.removeEventListener("resize", check);
      resolve();
    };
    window.addEventListener("resize", check);
  });
}

async function message(title, text) {
  $("message-title").textContent = title;
  $("message-text").textContent = text;
  show("screen-message");
  setPhase("message");
  await waitContinue($("message-continue"));
}

async function beforeTrial(trial) {
  const practice = cfg.practice_trials;
  if (practice > 0 && trial.index === practice) {
    await message("Practice over", "From now on there is no feedback. Answer as well as you can.");
  }
  const every = cfg.display.break_every;
  const done = trial.index - practice;
  if (every > 0 && done > 0 && !trial.practice && done % every === 0) {
    await message("Short break", "Rest your eyes for a moment, then continue when you are ready.");
  }
  await ensureWindowSize();
}

async function showFeedback(feedback) {
  const box = $("feedback");
  box.classList.toggle("correct", feedback.correct);
  box.classList.toggle("incorrect", !feedback.correct);
  $("feedback-text").textContent = feedback.correct
    ? "Correct!"
    : `Incorrect: the more realistic image was on the ${feedback.correct_side}.`;
  box.classList.remove("hidden");
  setPhase("feedback");
  await waitContinue($("feedback-continue"));
  box.classList.add("hidden");
}

function postForm(completion) {
  const form = $("submit-form");
  form.action = completion.url;
  for (const [name, value] of Object.entries(completion.fields)) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.appendChild(input);
  }
  $("done-text").textContent = "All your answers are saved. Submitting the HIT…";
  $("submit-button").classList.remove("hidden");
  $("submit-button").addEventListener("click", () => form.submit());
  setTimeout(() => form.submit(), 1000);
}

// Shown only once the server stored the last answer (it sends the completion with that ack).
function finish(completion) {
  run.accepting = false;
  flushEvents();
  show("screen-done");
  setPhase("done");
  if (!completion) return;
  if (completion.kind === "code" && completion.code) {
    $("completion-code").textContent = completion.code;
    $("completion-block").classList.remove("hidden");
  } else if (completion.kind === "redirect") {
    $("done-text").textContent = "All your answers are saved. Taking you back to the platform…";
    $("redirect-link").href = completion.url;
    $("redirect-link").classList.remove("hidden");
    setTimeout(() => window.location.assign(completion.url), 1500);
  } else if (completion.kind === "post") {
    postForm(completion);
  }
}

async function runTrials(state) {
  run.total = state.total;
  updateProgress(state.answered);
  if (state.done) {
    finish(state.completion);
    return;
  }
  let trial = state.next;
  let pending = preload(trial);
  pending.catch(() => {});
  while (trial) {
    await beforeTrial(trial);
    show("screen-trial");
    setPhase("preparing");
    const imgs = await pending;
    const result = await present(trial, imgs);
    clearStage(imgs);
    setPhase("saving");
    const ack = await saveAnswer(trial, result);
    run.trial = null;
    updateProgress(ack.answered);
    flushEvents();
    if (ack.next) {
      pending = preload(ack.next); // the next images load while feedback is on screen
      pending.catch(() => {});
    }
    if (ack.feedback) await showFeedback(ack.feedback);
    if (ack.done) {
      finish(ack.completion);
      return;
    }
    trial = ack.next;
  }
}

async function enrol() {
  setPhase("enrolling");
  const body = { params: cfg.params, window_w: Math.round(innerWidth), window_h: Math.round(innerHeight) };
  const reply = await requestWithRetry("POST", "api/enrol", body, TRIES);
  if (reply.status === 200 && reply.data.preview) {
    throw new FatalError("This is a preview: accept the HIT to start.");
  }
  if (reply.status !== 200 && reply.status !== 201) {
    throw new FatalError(reply.data.error || `enrolment failed (HTTP ${reply.status})`);
  }
  run.token = reply.data.token;
  saveToken(run.token);
  return reply.data.state;
}

async function resumeState() {
  run.token = loadToken();
  if (!run.token) return null;
  const reply = await requestWithRetry("GET", "api/state", undefined, TRIES);
  if (reply.status === 200) return reply.data;
  run.token = null;
  return null;
}

async function main() {
  setupStage();
  watchPage();
  const frameMs = await measureFrameMs();
  run.frameMs = frameMs > 0 && frameMs <= 1000 ? frameMs : 1000 / 60;
  document.body.dataset.frameMs = String(round3(run.frameMs));
  let state = await resumeState();
  if (state && !state.done) {
    show("screen-resume");
    setPhase("resume");
    await waitContinue($("resume"));
    enterFullscreen();
  } else if (!state) {
    show("screen-consent");
    setPhase("consent");
    await waitContinue($("start"));
    enterFullscreen();
    state = await enrol();
  }
  await runTrials(state);
}

main().catch((err) => {
  fail(err instanceof FatalError ? err.message : `Unexpected error: ${err && err.message}`);
});
